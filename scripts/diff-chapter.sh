#!/bin/sh
# diff-chapter.sh - `make diff-NN`: compares chapter code, file by file.
#
#   scripts/diff-chapter.sh --yours NN-name CHAPTER...
#       your chapters/NN-name/ against the finished code: lines marked -
#       are yours, lines marked + the solution's.
#   scripts/diff-chapter.sh --step NN-name CHAPTER...     (make diff-NN STEP=1)
#       what chapter NN's solution adds to the chapter it builds on: the one
#       solutions/steps.txt names as its base= (with its renamed files,
#       FILE:OLD in adapts=), else the chapter before it in CHAPTER...
#
# Both sides are the finished code without markers, as `snip solution`
# writes it into build/solution/ (make does that first).  Colour when the
# output is a terminal and diff can do it.
set -u
mode=$1 ch=$2
shift 2
manifest=solutions/steps.txt

color=""
if [ -t 1 ] && diff --color=auto /dev/null /dev/null >/dev/null 2>&1; then color="--color=always"; fi

# diff -u with labels; a missing side is shown as empty.
show() { # $1 old file, $2 new file, $3 old label, $4 new label
    # (POSIX sh has no local variables: these names are show's own.)
    show_old=$1 show_new=$2 old_label=$3 new_label=$4
    [ -f "$show_old" ] || { show_old=/dev/null; old_label="(no such file: $old_label)"; }
    [ -f "$show_new" ] || { show_new=/dev/null; new_label="(no such file: $new_label)"; }
    diff -u $color --label "$old_label" --label "$new_label" "$show_old" "$show_new"
    status=$?
    # 0 same, 1 different; 2 trouble; more: stopped by a signal (the
    # reader, such as a pager, went away), which is not an error.
    [ "$status" != 2 ] || { echo "diff: could not compare $old_label and $new_label" >&2; exit 2; }
    [ "$status" -le 1 ] || exit 0
}

# The file names of folder $1, one a line.
names_in() { for f in "$1"/*; do [ -f "$f" ] && basename "$f"; done; }

differences=0
if [ "$mode" = "--yours" ]; then
    mine=chapters/$ch
    solution=build/solution/$ch
    echo "make diff-${ch%%-*}: your $mine/ (lines marked -) against the solution (lines marked +)"
    for name in $( (names_in "$mine"; names_in "$solution") | sort -u); do
        if ! cmp -s "$mine/$name" "$solution/$name"; then
            differences=$((differences + 1))
            show "$mine/$name" "$solution/$name" "yours: $mine/$name" "solution: solutions/$ch/$name"
        fi
    done
    [ "$differences" = 0 ] && echo "make diff-${ch%%-*}: your $mine/ is the solution, line for line"
    exit 0
fi

# --step: the base chapter, from the manifest or the order of chapters.
base=""
renames=""
if [ -f "$manifest" ]; then
    line=$(grep -E "^$ch([[:space:]]|\$)" "$manifest" | head -n 1)
    for word in $line; do
        case "$word" in
        base=*) base=${word#base=} ;;
        adapts=*) renames=$(echo "${word#adapts=}" | tr ',' '\n' | grep ':') ;;
        esac
    done
fi
if [ -z "$base" ]; then
    previous=""
    for c in "$@"; do
        [ "$c" = "$ch" ] && base=$previous
        previous=$c
    done
fi
if [ -z "$base" ] || [ "$base" = "-" ]; then
    echo "make diff-${ch%%-*} STEP=1: chapter $ch is the first; it builds on no other chapter (make diff-${ch%%-*} compares your code with its solution)"
    exit 0
fi

new=build/solution/$ch
old=build/solution/$base
echo "make diff-${ch%%-*} STEP=1: what $ch adds to $base, the chapter it builds on (lines marked - are $base's, + are $ch's)"
# The base's name of a file of this chapter (a renamed one: FILE:OLD).
old_name() {
    for r in $renames; do
        [ "${r%%:*}" = "$1" ] && { echo "${r#*:}"; return; }
    done
    echo "$1"
}
seen=""
for name in $(names_in "$new"); do
    was=$(old_name "$name")
    seen="$seen $was"
    if ! cmp -s "$old/$was" "$new/$name"; then
        differences=$((differences + 1))
        show "$old/$was" "$new/$name" "solutions/$base/$was" "solutions/$ch/$name"
    fi
done
for name in $(names_in "$old"); do
    case " $seen " in *" $name "*) continue ;; esac
    differences=$((differences + 1))
    show "$old/$name" /dev/null "solutions/$base/$name" "solutions/$ch/$name"
done
[ "$differences" = 0 ] && echo "make diff-${ch%%-*} STEP=1: no file differs from $base's"
exit 0
