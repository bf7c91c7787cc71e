// shared_client_refused.rs - the program Rust refuses to compile, quoted in
// docs/01-shared-client.md.  `make docs-check` compiles it and passes only
// if rustc rejects it with the borrow checker's errors (E0373, E0499):
// the text's claim, checked.
use std::thread;

// Stands in for a Redis client: one connection, so every call needs the
// client exclusively (&mut self), exactly like mini-redis's Client.
struct Client {
    replies_read: u64,
}

impl Client {
    fn get(&mut self, _key: &str) -> Option<String> {
        self.replies_read += 1;
        None
    }

    fn set(&mut self, _key: &str, _value: &str) {
        self.replies_read += 1;
    }
}

fn main() {
    //> snippet refused
    let mut client = Client { replies_read: 0 };
    let reader = thread::spawn(|| client.get("hello"));
    let writer = thread::spawn(|| client.set("foo", "bar"));
    //< snippet refused
    reader.join().unwrap();
    writer.join().unwrap();
}
