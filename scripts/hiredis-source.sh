#!/bin/sh
# hiredis-source.sh - what `make HIREDIS=1.2` builds against: hiredis 1.2.0,
# the generation Debian 13 and Ubuntu 24.04 ship, fetched as source from
# Debian's archive and built into a folder of the build, so the tests can
# run on both generations without touching the system's hiredis.
#
#   scripts/hiredis-source.sh VERSION PREFIX     e.g. 1.2.0 build/hiredis-1.2.0
#
# 1. The upstream tarball (hiredis_VERSION.orig.tar.gz) comes from Debian 13
#    ("trixie") with `apt-get source --download-only`, through an apt
#    configuration of its own in build/apt-trixie/: the machine's package
#    sources are neither read nor changed, and no root is needed.  apt checks
#    it against the archive's signed index (debian-archive-keyring), and
#    this script against the SHA-256 below.  The mirror is the one apt
#    already uses for Debian, else deb.debian.org; DEBIAN_MIRROR overrides.
#    A tarball already in build/downloads/ is used as it is (after the
#    checksum), so the fetch happens once, and works offline after that.
# 2. It is built with hiredis's own Makefile (`make static`, no TLS) and
#    installed into PREFIX: include/hiredis/ (adapters included) and
#    lib/libhiredis.a, the static library only, so nothing links to it at
#    run time.  The install goes through a temporary folder and is moved into
#    place last: PREFIX is either complete or absent.
set -eu

version=${1:?usage: hiredis-source.sh VERSION PREFIX}
prefix=${2:?usage: hiredis-source.sh VERSION PREFIX}
case "$version" in
1.2.0) sha256=82ad632d31ee05da13b537c124f819eb88e18851d9cb0c30ae0552084811588c ;;
*) echo "hiredis-source.sh: no checksum known for hiredis $version" >&2; exit 2 ;;
esac
suite=trixie
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
tarball=hiredis_$version.orig.tar.gz
downloads=build/downloads
say() { echo "hiredis-source: $*"; }
fail() { echo "hiredis-source: $*" >&2; exit 1; }

checksum_ok() {
    [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$sha256" ]
}

# The http(s) URI apt uses for Debian's main archive here, if any.
debian_mirror() {
    if [ -n "${DEBIAN_MIRROR:-}" ]; then
        echo "$DEBIAN_MIRROR"
        return
    fi
    apt-get indextargets --format '$(ORIGIN)|$(SUITE)|$(REPO_URI)' 2>/dev/null |
        awk -F'|' '$1 == "Debian" && $2 !~ /security/ && $3 ~ /^https?:/ { print $3; exit }' |
        grep . || echo http://deb.debian.org/debian/
}

fetch() {
    command -v apt-get >/dev/null 2>&1 ||
        fail "fetching the source needs apt-get (Debian, Ubuntu). Elsewhere, put $tarball (SHA-256 $sha256) into $downloads/ by hand."
    [ -r "$keyring" ] ||
        fail "$keyring is missing, so apt cannot check Debian's archive. Install it: apt-get install debian-archive-keyring"
    mirror=$(debian_mirror)
    apt_dir=$(pwd)/build/apt-$suite
    rm -rf "$apt_dir"
    mkdir -p "$apt_dir/sources.list.d" "$apt_dir/preferences.d" "$apt_dir/lists/partial" \
        "$apt_dir/cache/archives/partial" "$apt_dir/source"
    echo "deb-src [signed-by=$keyring] $mirror $suite main" > "$apt_dir/sources.list"
    # Every path apt would take from the machine's configuration points into
    # apt_dir instead; the sandbox user is ourselves, since the files are ours.
    set -- -q -o Dir::Etc::SourceList="$apt_dir/sources.list" \
        -o Dir::Etc::SourceParts="$apt_dir/sources.list.d" \
        -o Dir::Etc::Preferences="$apt_dir/preferences" \
        -o Dir::Etc::PreferencesParts="$apt_dir/preferences.d" \
        -o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir/cache" \
        -o APT::Sandbox::User="$(id -un)" -o Debug::NoLocking=1
    say "fetching the hiredis source package from Debian $suite ($mirror)"
    apt-get "$@" update > "$apt_dir/update.log" 2>&1 ||
        { cat "$apt_dir/update.log" >&2; fail "apt-get update for $suite failed (above). Can this machine reach $mirror? Set DEBIAN_MIRROR to another Debian mirror."; }
    (cd "$apt_dir/source" && apt-get "$@" source --download-only hiredis) > "$apt_dir/source.log" 2>&1 ||
        { cat "$apt_dir/source.log" >&2; fail "apt-get source hiredis failed (above)"; }
    [ -f "$apt_dir/source/$tarball" ] ||
        fail "Debian $suite no longer has hiredis $version: it gave $(ls "$apt_dir/source" | tr '\n' ' ')"
    mkdir -p "$downloads"
    mv "$apt_dir/source/$tarball" "$downloads/$tarball"
    rm -rf "$apt_dir"
}

if [ ! -f "$downloads/$tarball" ]; then
    fetch
fi
checksum_ok "$downloads/$tarball" ||
    fail "$downloads/$tarball does not have the SHA-256 $sha256; delete it and try again"

say "building hiredis $version into $prefix"
work=$(mktemp -d build/hiredis-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
tar -xzf "$downloads/$tarball" -C "$work"
src=$work/hiredis-$version
stage=$(pwd)/$work/install
# hiredis's Makefile names its own warnings and optimisation; CC is ours.
make -s -C "$src" CC="${CC:-cc}" USE_SSL=0 static > "$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; fail "building hiredis failed (above)"; }
# Its paths are named on the command line: hiredis's Makefile would take
# LIBRARY_PATH from the environment, where it means something else to gcc.
make -s -C "$src" CC="${CC:-cc}" USE_SSL=0 PREFIX="$stage" INCLUDE_PATH=include/hiredis \
    LIBRARY_PATH=lib PKGCONF_PATH=pkgconfig install > "$work/install.log" 2>&1 ||
    { cat "$work/install.log" >&2; fail "installing hiredis into $stage failed (above)"; }
rm -rf "$stage"/lib/libhiredis.so* "$stage"/lib/pkgconfig
[ -f "$stage/lib/libhiredis.a" ] && [ -f "$stage/include/hiredis/hiredis.h" ] &&
    [ -f "$stage/include/hiredis/adapters/libuv.h" ] ||
    fail "the hiredis install lacks libhiredis.a or its headers (see $src)"
rm -rf "$prefix"
mkdir -p "$(dirname "$prefix")"
mv "$stage" "$prefix"
say "hiredis $version is in $prefix"
