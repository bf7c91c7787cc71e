#!/bin/sh
# pitfalls.sh - the two halves of `make test-pitfalls` that are not make's.
#
#   scripts/pitfalls.sh check SNIP CATALOGUE SECTIONS
#       The catalogue and the code agree: every row of CATALOGUE
#       ("NN | name | Section title | the mistake in words") has its
#       `//> pitfall name` marker in solutions/NN-*/, every marker has its
#       row, no row comes twice, and every section named there or in
#       SECTIONS ("NN | function | Section title") is a heading of
#       docs/NN-*.md.  SNIP checks the markers' nesting on the way.
#
#   scripts/pitfalls.sh report CATALOGUE DIR
#       Judges the runs make left in DIR/NN-name/ (verdict: exit status,
#       start and end times; test.log: everything the run printed).  A
#       pitfall is caught when the learner's `make test-NN` failed on it AND
#       said `reread "Section title"`, the row's section.  One line per
#       pitfall, then the counts; exits 1 unless every pitfall was caught
#       with the right hint.
set -u

# The rows of a "NN | a | b [| c]" file, as "NN<TAB>a<TAB>b<TAB>c", comments
# and blank lines left out, blanks around each field trimmed.
rows() {
    sed -e 's/#.*$//' -e '/^[[:space:]]*$/d' "$1" |
        awk -F'|' '{ for (i = 1; i <= NF; i++) { gsub(/^[ \t]+|[ \t]+$/, "", $i) }
                     printf "%s\t%s\t%s\t%s\n", $1, $2, $3, $4 }'
}

# Is "$2" a heading of chapter $1's text?  Prints the doc's name.
heading_of() {
    doc=$(ls docs/"$1"-*.md 2>/dev/null | head -n 1)
    [ -n "$doc" ] || return 1
    grep -qxF -e "## $2" -e "### $2" -e "#### $2" "$doc" || return 1
    echo "$doc"
}

check() {
    snip=$1 catalogue=$2 sections=$3
    bad=0
    problem() { echo "test-pitfalls: $*" >&2; bad=1; }
    tab=$(printf '\t')
    [ -f "$catalogue" ] || { problem "$catalogue is missing"; return 1; }
    marks=$("$snip" pitfalls solutions/*/*.[ch]) || { problem "the pitfall markers above are broken"; return 1; }
    # "NN name" for every marker, once.
    marked=$(echo "$marks" | sed -n 's,^solutions/\([0-9][0-9]\)-[^ ]* \(.*\)$,\1 \2,p' | sort -u)
    catalogued=$(rows "$catalogue" | awk -F'\t' '{ print $1 " " $2 }')
    dupes=$(echo "$catalogued" | sort | uniq -d)
    [ -z "$dupes" ] || problem "$catalogue lists these twice: $dupes"
    rows "$catalogue" > "${TMPDIR:-/tmp}/pitfalls.$$"
    while IFS="$tab" read -r nn name section words; do
        case "$nn" in [0-9][0-9]) ;; *) problem "$catalogue: a row must start with a chapter number NN: '$nn | $name'"; continue ;; esac
        [ -n "$section" ] && [ -n "$words" ] || problem "$catalogue: row '$nn | $name' needs a section and the mistake in words"
        echo "$marked" | grep -qxF "$nn $name" ||
            problem "$catalogue: '$nn | $name' has no '//> pitfall $name' in solutions/$nn-*/ (plant it there, or remove the row)"
        heading_of "$nn" "$section" >/dev/null ||
            problem "$catalogue: '$nn | $name' names section \"$section\", which is not a heading of docs/$nn-*.md"
    done < "${TMPDIR:-/tmp}/pitfalls.$$"
    rm -f "${TMPDIR:-/tmp}/pitfalls.$$"
    # A marker needs a row of its own chapter, or of an earlier one: a file
    # a chapter takes over byte for byte from its base (solutions/steps.txt)
    # carries the base's markers, whose pitfall is planted and run in the
    # chapter that teaches it.
    for m in $(echo "$marked" | tr ' ' '@'); do
        nn=${m%%@*} name=${m#*@}
        echo "$catalogued" | awk -v nn="$nn" -v name="$name" '$2 == name && $1 <= nn { found = 1 } END { exit !found }' ||
            problem "pitfall '$name' is planted in solutions/$nn-*/ but $catalogue has no row '$nn | $name | ...' (nor an earlier chapter's)"
    done
    if [ -f "$sections" ]; then
        rows "$sections" > "${TMPDIR:-/tmp}/sections.$$"
        while IFS="$tab" read -r nn fn section rest; do
            heading_of "$nn" "$section" >/dev/null ||
                problem "$sections: '$nn | $fn' names section \"$section\", which is not a heading of docs/$nn-*.md"
        done < "${TMPDIR:-/tmp}/sections.$$"
        rm -f "${TMPDIR:-/tmp}/sections.$$"
    fi
    [ "$bad" = 0 ] || return 1
    n=$(echo "$catalogued" | grep -c .)
    echo "test-pitfalls: $n pitfall(s) catalogued, each planted in solutions/ and each section a heading of its chapter's text"
}

report() {
    catalogue=$1 dir=$2
    tab=$(printf '\t')
    total=0 caught=0 seconds_all=0
    rows "$catalogue" > "${TMPDIR:-/tmp}/pitfalls.$$"
    while IFS="$tab" read -r nn name section words; do
        total=$((total + 1))
        run="$dir/$nn-$name"
        label="pitfall $nn $name"
        if [ ! -f "$run/verdict" ]; then
            echo "$label: NOT RUN: its planted copy did not build (the compiler's message is above)" >&2
            continue
        fi
        set -- $(cat "$run/verdict")
        rc=$1
        secs=$(awk -v a="$2" -v b="$3" 'BEGIN { d = b - a; if (d < 0 || d != d) d = 0; printf "%.1f", d }')
        seconds_all=$(awk -v a="$seconds_all" -v b="$secs" 'BEGIN { printf "%.1f", a + b }')
        hint="reread \"$section\""
        if [ "$rc" = 0 ]; then
            echo "$label: NOT CAUGHT: make test-$nn passes with this mistake planted ($words); log: $run/test.log" >&2
        elif grep -qF -- "$hint" "$run/test.log"; then
            caught=$((caught + 1))
            echo "$label: caught, as it should be ($hint; ${secs} s)"
        else
            seen=$(grep -o 'reread "[^"]*"' "$run/test.log" | sort -u | tr '\n' ' ')
            echo "$label: caught, but with the wrong hint: expected $hint, the run said: ${seen:-no hint at all}; log: $run/test.log" >&2
        fi
    done < "${TMPDIR:-/tmp}/pitfalls.$$"
    rm -f "${TMPDIR:-/tmp}/pitfalls.$$"
    average=$(awk -v a="$seconds_all" -v n="$total" 'BEGIN { if (n > 0) printf "%.1f", a / n; else print 0 }')
    echo "test-pitfalls: $total pitfalls, $caught caught with the right hint (${PITFALL_WALL:-?} s to build and run them, ${PITFALL_JOBS:-?} at a time; a run took ${average} s on average)"
    mkdir -p build/summary
    if [ "$caught" = "$total" ]; then
        printf '%s\t%s\n' "$(date +%s)" "$total pitfalls planted, $caught caught with the right hint" > build/summary/test-pitfalls
        return 0
    fi
    echo "test-pitfalls: $((total - caught)) of $total pitfalls are not caught as they should be (see above)" >&2
    return 1
}

case "${1:-}" in
check) shift; check "$@" ;;
report) shift; report "$@" ;;
*) echo "usage: pitfalls.sh check SNIP CATALOGUE SECTIONS | pitfalls.sh report CATALOGUE DIR" >&2; exit 2 ;;
esac
