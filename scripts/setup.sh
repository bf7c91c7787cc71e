#!/bin/sh
# setup.sh - make sure this machine has what the tutorial needs, and install
# only what is missing.
#
#   scripts/setup.sh            what `make` and `make test` need (libuv: chapter 11)
#   scripts/setup.sh valgrind   ... and valgrind, for `make valgrind`
#   scripts/setup.sh bench      ... and gnuplot and redis-benchmark, for `make bench`
#   scripts/setup.sh docs       ... and pandoc, graphviz and gdb, for `make docs` and `make docs-check`
#   scripts/setup.sh browser    ... and Chromium with its WebDriver and python3, for the site test
#   scripts/setup.sh strace     ... and strace, for the test that no password reaches a command line
#   scripts/setup.sh --check    only report; exit 1 if something is missing
#
# On Debian and Ubuntu it installs with apt-get (through sudo when not root,
# without questions when CI=true or there is no terminal).  Elsewhere it
# prints the package names for dnf and Homebrew and stops.
set -u

check_only=0
want_valgrind=0
want_bench=0
want_docs=0
want_browser=0
want_strace=0
for arg in "$@"; do
    case "$arg" in
    --check) check_only=1 ;;
    valgrind) want_valgrind=1 ;;
    bench) want_bench=1 ;;
    docs) want_docs=1 ;;
    browser) want_browser=1 ;;
    strace) want_strace=1 ;;
    *) echo "setup.sh: unknown argument '$arg'" >&2; exit 2 ;;
    esac
done

# Each need: how to tell it is there, and the Debian package that provides it.
missing_pkgs=""
missing_what=""
need() { # $1 description, $2 debian package
    missing_what="$missing_what $1"
    case " $missing_pkgs " in *" $2 "*) ;; *) missing_pkgs="$missing_pkgs $2" ;; esac
}
have_cmd() { command -v "$1" >/dev/null 2>&1; }

check_all() {
    missing_pkgs=""
    missing_what=""
    have_cmd cc || have_cmd gcc || need "a C compiler" gcc
    have_cmd make || need "make" make
    if have_cmd pkg-config; then
        pkg-config --exists hiredis || need "hiredis (pkg-config)" libhiredis-dev
        pkg-config --exists check || need "check (pkg-config)" check
        # Chapter 11's event loop.
        pkg-config --exists libuv || need "libuv (pkg-config)" libuv1-dev
    else
        need "pkg-config" pkg-config
        need "hiredis" libhiredis-dev
        need "check" check
        need "libuv" libuv1-dev
    fi
    have_cmd redis-server || need "redis-server" redis-server
    have_cmd redis-cli || need "redis-cli" redis-tools
    if [ "$want_valgrind" = 1 ]; then
        have_cmd valgrind || need "valgrind" valgrind
    fi
    if [ "$want_bench" = 1 ]; then
        have_cmd gnuplot || need "gnuplot" gnuplot-nox
        have_cmd redis-benchmark || need "redis-benchmark" redis-tools
    fi
    if [ "$want_docs" = 1 ]; then
        have_cmd pandoc || need "pandoc" pandoc
        have_cmd dot || need "dot (graphviz)" graphviz
        have_cmd gdb || need "gdb" gdb
    fi
    if [ "$want_strace" = 1 ]; then
        have_cmd strace || need "strace" strace
    fi
    if [ "$want_browser" = 1 ]; then
        have_cmd chromium || need "chromium" chromium
        have_cmd chromedriver || need "chromedriver" chromium-driver
        have_cmd python3 || need "python3 (drives the browser)" python3
    fi
}

check_all
if [ -z "$missing_pkgs" ]; then
    exit 0
fi

echo "setup: missing:$missing_what"
if [ "$check_only" = 1 ]; then
    echo "setup: run 'make setup' to install them."
    exit 1
fi

if ! have_cmd apt-get; then
    cat >&2 <<MSG
setup: this system has no apt-get, so I cannot install them for you.
Install the equivalents of these Debian packages:$missing_pkgs
  Fedora/RHEL (dnf):  sudo dnf install gcc make pkgconf-pkg-config hiredis-devel check-devel libuv-devel redis valgrind gnuplot pandoc graphviz gdb chromium chromedriver strace
  macOS (Homebrew):   brew install pkg-config hiredis check libuv redis gnuplot pandoc graphviz chromium chromedriver
Then run your make command again.
MSG
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    as_root=""
elif have_cmd sudo; then
    as_root="sudo"
else
    echo "setup: I need root to run: apt-get install$missing_pkgs" >&2
    echo "setup: there is no sudo here; run that command as root, then try again." >&2
    exit 1
fi

echo "setup: installing with apt-get:$missing_pkgs"
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine are often empty or stale: refresh
# them first, or the install fails with "Unable to locate package".
$as_root apt-get update -qq || { echo "setup: 'apt-get update' failed (see above)." >&2; exit 1; }
# shellcheck disable=SC2086
if ! $as_root apt-get install -y -qq --no-install-recommends $missing_pkgs; then
    echo "setup: 'apt-get install$missing_pkgs' failed (see above)." >&2
    exit 1
fi

check_all
if [ -n "$missing_pkgs" ]; then
    echo "setup: still missing after the install:$missing_what" >&2
    exit 1
fi
echo "setup: done."
