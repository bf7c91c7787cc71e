#!/bin/sh
# reset-chapter.sh - `make reset-NN`: puts chapter NN's starting code back
# in chapters/NN-name/, after saving the learner's copy under build/saved/.
#
#   scripts/reset-chapter.sh NN-name     (the starter is in build/starters/NN-name/)
#
# Nothing is lost: the whole folder is copied first, and the command says
# where.  A folder that already is the starter is left alone.
set -u
ch=$1
mine=chapters/$ch
starter=build/starters/$ch
[ -d "$starter" ] || { echo "reset: no starter for $ch in $starter" >&2; exit 2; }

same=1
if [ -d "$mine" ]; then
    for f in "$starter"/* "$mine"/*; do
        [ -e "$f" ] || continue
        name=$(basename "$f")
        cmp -s "$starter/$name" "$mine/$name" || { same=0; break; }
    done
else
    same=0
fi
if [ "$same" = 1 ]; then
    echo "reset-${ch%%-*}: $mine/ already is the starter; nothing to do"
    exit 0
fi

if [ -d "$mine" ]; then
    saved=build/saved/$ch-$(date +%Y%m%d-%H%M%S)
    n=1
    while [ -e "$saved" ]; do saved=build/saved/$ch-$(date +%Y%m%d-%H%M%S)-$n; n=$((n + 1)); done
    mkdir -p "$(dirname "$saved")"
    cp -R "$mine" "$saved" || { echo "reset: could not save $mine/ to $saved/; nothing changed" >&2; exit 1; }
    # Only files: the starter has no sub-folders, and a learner's extra
    # file would otherwise be compiled with the starter.
    for f in "$mine"/*; do [ -f "$f" ] && rm -f "$f"; done
fi
mkdir -p "$mine"
cp "$starter"/* "$mine"/
echo "reset-${ch%%-*}: $mine/ is the starter again"
[ -n "${saved:-}" ] && echo "reset-${ch%%-*}: your copy is saved in $saved/ (compare: diff -ru $saved $mine)"
exit 0
