#!/bin/sh
# doctor.sh - `make doctor`: checks everything the tutorial relies on and
# says, for each problem, what to do about it.  Changes nothing.
set -u
problems=0
ok()   { printf '  ok    %s\n' "$*"; }
bad()  { printf '  FIX   %s\n' "$1"; printf '        -> %s\n' "$2"; problems=$((problems + 1)); }
note() { printf '  note  %s\n' "$*"; }

echo "Tools"
if command -v cc >/dev/null 2>&1; then ok "C compiler: $(cc --version | head -n 1)"; else bad "no C compiler" "make setup"; fi
if command -v make >/dev/null 2>&1; then ok "$(make --version | head -n 1)"; else bad "no make" "install make"; fi
if command -v pkg-config >/dev/null 2>&1; then ok "pkg-config $(pkg-config --version)"; else bad "no pkg-config" "make setup"; fi

echo "Libraries"
for mod in hiredis check; do
    if pkg-config --exists "$mod" 2>/dev/null; then ok "$mod $(pkg-config --modversion "$mod")"
    else bad "$mod not found by pkg-config" "make setup"; fi
done

echo "Redis"
if command -v redis-server >/dev/null 2>&1; then ok "$(redis-server --version | cut -d' ' -f1-3)"; else bad "no redis-server" "make setup"; fi
url=${REDIS_URL:-redis://127.0.0.1:6379}
if command -v redis-cli >/dev/null 2>&1; then
    if [ "$(redis-cli -u "$url" ping 2>/dev/null)" = "PONG" ]; then
        ok "a Redis answers at $url (make run-NN will use it)"
    else
        note "nothing answers at $url: make run-NN starts a throwaway server instead (that is fine)"
    fi
else
    bad "no redis-cli" "make setup"
fi
stray=$(pgrep -f 'redis-server 127.0.0.1' 2>/dev/null | wc -l)
[ "$stray" -gt 0 ] && note "$stray redis-server process(es) on 127.0.0.1 are running (tests stop theirs; check with: pgrep -a redis-server)"

echo "Sanitizers and valgrind"
tmp=$(mktemp -d)
printf 'int main(void){return 0;}\n' > "$tmp/t.c"
for san in address thread; do
    if cc -fsanitize=$san "$tmp/t.c" -o "$tmp/t" >/dev/null 2>&1 && "$tmp/t" >/dev/null 2>&1; then
        ok "SAN=$san builds and runs"
    else
        bad "SAN=$san does not work here" "the compiler lacks the $san sanitizer runtime; plain 'make test' still works"
    fi
done
rm -rf "$tmp"
# What `make test-NN` does with the learner's code here (probed once, kept
# in build/.learner-san until the compiler changes).
case "$(scripts/learner-san.sh "${CC:-cc}")" in
"SAN=address") ok "$(scripts/learner-san.sh "${CC:-cc}" --explain)" ;;
*) note "$(scripts/learner-san.sh "${CC:-cc}" --explain)" ;;
esac
if command -v valgrind >/dev/null 2>&1; then ok "$(valgrind --version)"; else note "no valgrind: 'make valgrind' will install it"; fi

echo "Your work"
if command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    changed=$(git status --porcelain -- chapters 2>/dev/null | wc -l)
    note "$changed file(s) changed under chapters/ (make progress shows where you are)"
fi

echo
if [ $problems = 0 ]; then echo "doctor: all good."; else echo "doctor: $problems thing(s) to fix (see FIX above)."; exit 1; fi
