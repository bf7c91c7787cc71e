#!/bin/sh
# build-site.sh - `make docs`: renders docs/*.md into a static site with
# pandoc, one page per doc, for reading offline in a browser.
#
#   scripts/build-site.sh OUT     (make docs uses OUT=build/site)
#
# Pages are discovered from the files present, so a new chapter slots in
# with no edit here.  Their order (for the sidebar and previous/next):
#   README.md (the map, written as index.html), 00-setup.md,
#   the other NN-*.md in file-name order (chapters, then "going further"),
#   then the reference pages tokio-to-c.md, channels.md, benchmarks.md,
#   then any other doc, alphabetically.
# The frame, the stylesheet and the link-rewriting filter live in docs/site/;
# docs/img/ is copied in whole.  C is highlighted by pandoc itself.
set -eu
out=${1:?usage: build-site.sh OUT}
command -v pandoc >/dev/null 2>&1 || { echo "build-site: pandoc is not installed; run 'scripts/setup.sh docs'" >&2; exit 1; }

# ---- The pages, in reading order ----
pages=""
add() { [ -f "docs/$1" ] && case " $pages " in *" $1 "*) ;; *) pages="$pages $1" ;; esac; return 0; }
add README.md
add 00-setup.md
for f in docs/[0-9][0-9]-*.md; do [ -e "$f" ] && add "$(basename "$f")"; done
add tokio-to-c.md
add channels.md
add benchmarks.md
for f in docs/*.md; do add "$(basename "$f")"; done

html_name() { if [ "$1" = README.md ]; then echo index.html; else echo "${1%.md}.html"; fi; }
# The first "# " heading, as plain text: the page's title.
title_of() { sed -n 's/^# //p' "docs/$1" | head -n 1 | sed 's/`//g; s/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g'; }
# Which sidebar group a page belongs to.
group_of() {
    case "$1" in
    README.md | 00-*) echo "Start" ;;
    0[1-5]-*) echo "Chapters" ;;
    [0-9][0-9]-*) echo "Going further" ;;
    *) echo "Reference" ;;
    esac
}
# The n-th page of the list (empty past either end).
nth() { [ "$1" -ge 1 ] && echo $pages | tr ' ' '\n' | sed -n "${1}p"; return 0; }

rm -rf "$out"
mkdir -p "$out"
cp docs/site/style.css "$out/style.css"
if [ -d docs/img ]; then cp -R docs/img "$out/img"; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# ---- The sidebar: every page, grouped, the current one marked ----
sidebar() { # $1: the current page
    echo '<nav class="site-nav" aria-label="All pages">'
    echo '<p class="site-name"><a href="index.html">Channels in C</a></p>'
    last=""
    for p in $pages; do
        g=$(group_of "$p")
        if [ "$g" != "$last" ]; then
            if [ -n "$last" ]; then echo '</ul>'; fi
            echo "<p class=\"nav-heading\">$g</p>"
            echo '<ul>'
            last=$g
        fi
        cls=""
        if [ "$p" = "$1" ]; then cls=' class="current"'; fi
        echo "<li$cls><a href=\"$(html_name "$p")\">$(title_of "$p")</a></li>"
    done
    echo '</ul>'
    echo '</nav>'
}

count=0
for page in $pages; do
    count=$((count + 1))
    prev=$(nth $((count - 1)))
    next=$(nth $((count + 1)))
    sidebar "$page" > "$tmp/nav.html"
    set -- --metadata "pagetitle=$(title_of "$page")" --variable "source=$page"
    if [ -n "$prev" ]; then
        set -- "$@" --variable "prev-href=$(html_name "$prev")" --variable "prev-title=$(title_of "$prev")"
    fi
    if [ -n "$next" ]; then
        set -- "$@" --variable "next-href=$(html_name "$next")" --variable "next-title=$(title_of "$next")"
    fi
    # GitHub's heading anchors, so that #links work the same there and here
    # (tools/snip.c checks them the same way).
    pandoc "docs/$page" \
        --from markdown+gfm_auto_identifiers \
        --to html5 --standalone \
        --template docs/site/template.html \
        --lua-filter docs/site/links.lua \
        --include-before-body "$tmp/nav.html" \
        --toc --toc-depth 2 \
        --highlight-style pygments \
        "$@" \
        --output "$out/$(html_name "$page")"
done
echo "build-site: $count pages in $out (open $out/index.html)"
