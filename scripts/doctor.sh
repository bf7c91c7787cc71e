#!/bin/sh
# doctor.sh - `make doctor`: checks everything the tutorial relies on and
# says, for each problem, what to do about it.  Changes nothing on the
# machine (it may build with-redis in build/, to ask it about REDIS_URL).
#
#   scripts/doctor.sh WITH_REDIS     the Makefile passes $(WITH_REDIS), and
#                                    DOCTOR_TEST_* / DOCTOR_HIREDIS (below)
#
# REDIS_URL may hold a password: it is read by with-redis, the project's own
# URL code, from the environment.  It is never printed here and never put on
# a command line, where `ps` would show it to every user of the machine.
set -u
with_redis=${1:?usage: doctor.sh WITH_REDIS}
problems=0
ok()   { printf '  ok    %s\n' "$*"; }
bad()  { printf '  FIX   %s\n' "$1"; printf '        -> %s\n' "$2"; problems=$((problems + 1)); }
note() { printf '  note  %s\n' "$*"; }

echo "Tools"
if command -v cc >/dev/null 2>&1; then ok "C compiler: $(cc --version | head -n 1)"; else bad "no C compiler" "make setup"; fi
if command -v make >/dev/null 2>&1; then ok "$(make --version | head -n 1)"; else bad "no make" "install make"; fi
if command -v pkg-config >/dev/null 2>&1; then ok "pkg-config $(pkg-config --version)"; else bad "no pkg-config" "make setup"; fi

echo "Libraries"
for mod in hiredis check libuv; do
    if pkg-config --exists "$mod" 2>/dev/null; then ok "$mod $(pkg-config --modversion "$mod")"
    else bad "$mod not found by pkg-config" "make setup"; fi
done

echo "Redis"
if command -v redis-server >/dev/null 2>&1; then ok "$(redis-server --version | cut -d' ' -f1-3)"; else bad "no redis-server" "make setup"; fi
if command -v redis-cli >/dev/null 2>&1; then ok "$(redis-cli --version)"; else bad "no redis-cli" "make setup"; fi
# with-redis is built (or brought up to date) here only when everything it
# needs is installed (setup.sh --check), so that doctor never installs
# anything.
if scripts/setup.sh --check >/dev/null 2>&1; then
    make --no-print-directory -s "$with_redis" >/dev/null 2>&1
fi
if [ -x "$with_redis" ]; then
    # `with-redis --check` says what `make run` would do with REDIS_URL:
    # exit 0 a Redis answers, 1 nothing there, 2 the URL is wrong.
    line=$("$with_redis" --check 2>&1)
    case $? in
    0) ok "$line" ;;
    1) note "$line" ;;
    *) bad "REDIS_URL: $line" "fix REDIS_URL, or unset it: make run then starts a throwaway server" ;;
    esac
else
    note "REDIS_URL not checked: with-redis cannot be built until the FIXes above are done"
fi
stray=$(pgrep -f 'redis-server 127.0.0.1' 2>/dev/null | wc -l)
[ "$stray" -gt 0 ] && note "$stray redis-server process(es) on 127.0.0.1 are running (tests stop theirs; check with: pgrep -a redis-server)"

echo "Redis Cluster (chapter 10)"
# The harness gives each node a bus port of its own (cluster-port) and its
# slots with CLUSTER ADDSLOTSRANGE: both came with Redis 7.0.
if command -v redis-server >/dev/null 2>&1; then
    major=$(redis-server --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p')
    if [ "${major:-0}" -ge 7 ]; then
        ok "redis-server ${major}.x can run the throwaway clusters of make run-10 and make test-10"
    else
        bad "redis-server ${major:-?}.x is too old for chapter 10's clusters (cluster-port and CLUSTER ADDSLOTSRANGE need 7.0)" \
            "install Redis 7 or later (Debian 12 and Ubuntu 24.04 have it: make setup)"
    fi
fi

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

# ---- What `make test-NN` uses --------------------------------------------------
# The Makefile fills in DOCTOR_TEST_BUILD (the build folder of `make test-NN`),
# DOCTOR_TEST_SAN (its sanitizer: empty, address or thread) and DOCTOR_HIREDIS
# (empty: the system's hiredis; 1.2: the one built from Debian's source).
# The Makefile's doctor target works out that build as `make test-NN` does.
echo "What make test-NN uses"
case "${DOCTOR_TEST_SAN:-none}" in
none|"") san="no sanitizer (SAN=none; SAN=address or SAN=thread check memory and races)" ;;
address) san="AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer (the strict build)" ;;
address-no-leaks) san="AddressSanitizer + UndefinedBehaviorSanitizer (LeakSanitizer does not work here)" ;;
thread) san="ThreadSanitizer" ;;
*) san="${DOCTOR_TEST_SAN}" ;;
esac
note "build ${DOCTOR_TEST_BUILD:-build/plain}: $san"
if [ -x "$with_redis" ]; then
    version=$("$with_redis" --version 2>/dev/null | sed -n 's/.*hiredis //p')
    if [ -n "${DOCTOR_HIREDIS:-}" ]; then
        note "hiredis $version, built from Debian's source in build/ (HIREDIS=$DOCTOR_HIREDIS)"
    else
        note "hiredis $version, the system's (HIREDIS=1.2 builds and uses 1.2 instead)"
    fi
fi

echo "Your work"
if command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    changed=$(git status --porcelain -- chapters 2>/dev/null | wc -l)
    note "$changed file(s) changed under chapters/ (make progress shows where you are)"
fi

echo
if [ $problems = 0 ]; then echo "doctor: all good."; else echo "doctor: $problems thing(s) to fix (see FIX above)."; exit 1; fi
