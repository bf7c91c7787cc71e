#!/bin/sh
# test_secrets.sh - `make test-secrets`: a password in REDIS_URL is never
# printed by `make run` or `make doctor`, and never put on the command line
# of any process they start (`ps` shows every command line to every user).
#
# Runs under with-redis (the Makefile does that): it gives the throwaway
# server a password, then runs the documented commands against it, the way
# a learner would, with strace recording every program started and its
# arguments.  Also checks that `make run` stops with with-redis's message and
# exit 2 for a wrong password and for a port out of range, instead of
# quietly using another server.
set -u
base=${REDIS_URL:?run this through with-redis: make test-secrets}
hostport=${base#redis://}
password='s3cr3t@pw'
secret=s3cr3t
out=build/test-secrets
rm -rf "$out" && mkdir -p "$out"
checks=0
failures=0
pass() { checks=$((checks + 1)); }
fail() { checks=$((checks + 1)); failures=$((failures + 1)); echo "test-secrets: FAIL: $*" >&2; }

# The password reaches the server on redis-cli's standard input (printf is a
# shell builtin), not on its command line.
printf 'CONFIG SET requirepass %s\n' "$password" | redis-cli -u "$base" > "$out/config.log" 2>&1
grep -q '^OK' "$out/config.log" || { cat "$out/config.log" >&2; echo "test-secrets: cannot set the password" >&2; exit 1; }

# run NAME URL CMD...: runs CMD with REDIS_URL=URL under strace; output in
# $out/NAME.out, every execve with its arguments in $out/NAME.trace.
run() {
    name=$1 url=$2
    shift 2
    REDIS_URL=$url strace -f -qq -e trace=execve -s 65535 -o "$out/$name.trace" "$@" \
        > "$out/$name.out" 2>&1
    echo $? > "$out/$name.rc"
}

# expect_hidden NAME: neither the output nor any command line held the secret.
expect_hidden() {
    if grep -q "$secret" "$out/$1.out"; then
        fail "$1 printed the password:"; grep "$secret" "$out/$1.out" >&2
    else pass; fi
    if grep -q "$secret" "$out/$1.trace"; then
        fail "$1 put the password on a command line:"; grep "$secret" "$out/$1.trace" >&2
    else pass; fi
}

# expect NAME TEXT: the output says TEXT.
expect() {
    if grep -qF -- "$2" "$out/$1.out"; then pass; else
        fail "$1 did not say \"$2\"; it said:"; cat "$out/$1.out" >&2
    fi
}

expect_rc() {
    rc=$(cat "$out/$1.rc")
    if [ "$rc" = "$2" ]; then pass; else fail "$1 exited with $rc, expected $2"; fi
}

make_run() { run "$1" "$2" make --no-print-directory run ARGS="--requests 50"; }

# The right password, with its '@' as is and escaped as %40.
make_run run-password "redis://:$password@$hostport"
expect_rc run-password 0
expect run-password "with-redis: using the Redis server at redis://:***@$hostport"
expect_hidden run-password
make_run run-escaped "redis://:s3cr3t%40pw@$hostport"
expect_rc run-escaped 0
expect run-escaped "with-redis: using the Redis server at redis://:***@$hostport"
expect_hidden run-escaped

# Mistakes stop the run with with-redis's exit 2 (make reports it, and
# exits 2 itself), instead of running against a throwaway server.
make_run run-wrong-password "redis://:wrong-$secret@$hostport"
expect_rc run-wrong-password 2
expect run-wrong-password "AUTH failed"
expect run-wrong-password "Error 2"
expect_hidden run-wrong-password
make_run run-bad-port "redis://127.0.0.1:70000"
expect_rc run-bad-port 2
expect run-bad-port 'the port must be a number from 1 to 65535 (got "70000")'
expect run-bad-port "Error 2"

# make doctor asks with-redis, which reads the URL from its environment.
run doctor "redis://:$password@$hostport" make --no-print-directory doctor
expect doctor "a Redis server answers at redis://:***@$hostport"
expect_hidden doctor
run doctor-wrong "redis://:wrong-$secret@$hostport" make --no-print-directory doctor
expect doctor-wrong "FIX   REDIS_URL: cannot connect to redis://:***@$hostport: AUTH failed"
expect_hidden doctor-wrong

if [ "$failures" -gt 0 ]; then
    echo "test-secrets: $failures of $checks checks failed (outputs and traces in $out/)" >&2
    exit 1
fi
echo "test-secrets: $checks checks passed: no password in any output or command line of make run and make doctor"
