#!/usr/bin/env bash
# git on ptalloc, compared with git on glibc.
#   Debian package: git
#
# A driver script builds a repository from scratch: ~60 files, a few hundred
# commits with fixed author/committer names and dates (so every object id is
# fixed), renames and deletions, a feature branch merged back, a conflicting
# merge resolved with -X theirs, a cherry-pick, a rebase, annotated tags;
# then log -p, diff, blame, grep, archive, gc --aggressive and repack with
# 2 delta-search threads, fsck --full, a --no-local clone, a bundle and a
# fast-export. Only git is preloaded (the driver's shell and awk are not).
# The full output, with the repository's path replaced, must be identical;
# only what thread scheduling in pack-objects may legitimately change (pack
# sizes and names) is left out of it.
source "$(dirname "$0")/common.bash"
need git awk sha256sum
check_preload
cd "$T"

if [ "$QUICK" = 1 ]; then COMMITS=80; else COMMITS=200; fi

cat >driver.sh <<'EOF'
# driver.sh DIR COMMITS — PRE="" (glibc) or PRE=library to preload into git
set -euo pipefail
dir=$1; commits=$2
g() { if [ -n "$PRE" ]; then LD_PRELOAD=$PRE git "$@"; else git "$@"; fi; }
export HOME=$dir/home GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 GIT_PAGER=cat PAGER=cat
export GIT_AUTHOR_NAME="A U Thor" GIT_AUTHOR_EMAIL=author@example.com
export GIT_COMMITTER_NAME="C O Mitter" GIT_COMMITTER_EMAIL=committer@example.com
mkdir -p "$HOME"
tick=1700000000
stamp() { tick=$((tick + 97)); export GIT_AUTHOR_DATE="@$tick +0000" GIT_COMMITTER_DATE="@$tick +0000"; }

# content of file F at version V: most lines stable, a tenth rewritten per
# version, length varies with the version
gen() {   # gen F V > file
    awk -v f="$1" -v v="$2" 'BEGIN {
        n = 120 + (f * 7 + v * 13) % 90
        split("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu", w, " ")
        for (j = 0; j < n; j++) {
            r = (j % 10 == v % 10) ? v : int(v / 25)
            h = (f * 7919 + j * 104729 + r * 1299709) % 1000003
            printf "f%d line %d: %s %s %d", f, j, w[1 + h % 12], w[1 + int(h / 12) % 12], h
            for (k = 0; k < h % 7; k++) printf " %s", w[1 + (h + k) % 12]
            printf "\n"
        }
    }'
}
path() { echo "src/d$(( $1 % 6 ))/file$1.txt"; }

g init -q -b main "$dir/repo"
cd "$dir/repo"
g config core.autocrlf false
g config gc.auto 0
g config pack.threads 2
g config merge.conflictstyle merge
for f in $(seq 0 59); do mkdir -p "$(dirname "$(path $f)")"; gen $f 0 >"$(path $f)"; done
g add -A; stamp; g commit -q -m "initial import"

commit_range() {   # commit_range FROM TO SALT: commits FROM..TO on the current branch
    local i f
    for i in $(seq "$1" "$2"); do
        for f in $(seq 0 59); do
            if [ $(( (f * 31 + i * 7 + $3) % 13 )) -eq 0 ] && [ -e "$(path $f)" ]; then
                gen $f $((i + $3)) >"$(path $f)"
            fi
        done
        case $((i % 50)) in
            17) f=$((i % 60)); [ -e "$(path $f)" ] && g mv "$(path $f)" "$(path $f).moved" ;;
            33) f=$(( (i * 3) % 60 )); [ -e "$(path $f)" ] && g rm -q "$(path $f)" ;;
            41) f=$((100 + i)); mkdir -p "$(dirname "$(path $f)")"; gen $f $i >"$(path $f)" ;;
        esac
        g add -A; stamp
        g commit -q -m "change $i (salt $3)" -m "touches files where (f*31+i*7+$3) % 13 == 0"
        [ "$3" -eq 0 ] && [ $((i % 40)) -eq 0 ] && { stamp; g tag -a "v$i" -m "release $i"; }
    done
    return 0
}

merge() {   # merge BRANCH MSG: -X theirs, and modify/delete conflicts keep the tree
    g merge -q --no-ff -X theirs -m "$2" "$1" >/dev/null || { g add -A; g commit -q --no-edit; }
}

half=$((commits / 2))
commit_range 1 "$half" 0
g checkout -q -b feature
commit_range 1 $((commits / 6)) 5
g checkout -q main
commit_range $((half + 1)) $((commits * 3 / 4)) 0
echo "== merge feature"
stamp; merge feature "merge feature"
g checkout -q -b topic HEAD~3
commit_range 900 $((900 + commits / 10)) 2
stamp; g rebase -q -X theirs main
g checkout -q main
stamp; g cherry-pick -X theirs topic~1 >/dev/null || { g add -A; g -c core.editor=true cherry-pick --continue >/dev/null; }
stamp; merge topic "merge topic"
commit_range $((commits * 3 / 4 + 1)) "$commits" 0

echo "== head";        g rev-parse HEAD HEAD^{tree} feature topic
echo "== log";         g log --graph --format='%H %an %ad %s' --date=iso-strict --stat --all | sed -n '1,4000p'
echo "== log -p";      g log -p --format='%H %s' --find-renames main~12..main
echo "== diff";        g diff --stat --summary -M v40 main
                       g diff -M --patience v40 main | sha256sum
                       g diff --word-diff main~30 main -- src/d1 | sed -n '1,2000p'
echo "== blame";       g blame -M -C --date=iso "$(path 1)" | sed -n '1,300p'
                       g blame --porcelain "$(path 12)" | sha256sum
echo "== grep";        g grep -n -e 'kappa lambda' -e 'mu alpha [0-9]*7$' main -- src/d2 | sed -n '1,500p'
                       g grep -c epsilon $(g rev-list --max-count=20 main) | sha256sum
echo "== shortlog";    g shortlog -sne --all
echo "== describe";    g describe --tags main~7; g name-rev --tags HEAD~25
echo "== archive";     g archive --format=tar main | sha256sum
                       g archive --format=tar.gz v80 | gzip -dc | sha256sum
echo "== status";      g status --porcelain=v2 --branch
echo "== gc";          g -c gc.aggressiveWindow=40 -c gc.aggressiveDepth=40 gc -q --aggressive
                       g count-objects -v | grep -E '^(count|in-pack|packs|garbage|size-garbage):'
echo "== objects";     g cat-file --batch-all-objects --batch-check | sort | sha256sum
                       g rev-list --objects --all | sort | sha256sum
echo "== repack";      g repack -q -a -d -f --window=25 --depth=30 --threads=2
echo "== fsck";        g fsck --full --strict --no-progress 2>&1
echo "== clone";       cd "$dir"; g clone -q --no-local repo clone
                       g -C clone fsck --full --no-progress 2>&1
                       g -C clone log --format=%H%n%T | sha256sum
echo "== bundle";      g -C repo bundle create "$dir/all.bundle" --all 2>&1 | grep -v -E '^(Enumerating|Counting|Delta|Compressing|Writing|Total)' || true
                       g -C clone bundle verify "$dir/all.bundle" 2>&1
echo "== fast-export"; g -C repo fast-export --all --signed-tags=verbatim | sha256sum
echo "== done"
EOF

run_git() {   # side library-or-empty
    local side=$1 lib=$2 rc=0 t0=$SECONDS
    mkdir -p "$side"
    PRE=$lib glibc 400 bash driver.sh "$T/$side" "$COMMITS" >"$side/raw" 2>&1 || rc=$?
    echo "$rc" >"$side/rc"; echo $((SECONDS - t0)) >"$side/time"
    sed -e "s|$T/$side|<dir>|g" "$side/raw" >"$side/out"
}
run_git glibc ""
run_git pre "$PTALLOC_LIB"
r=$(cat glibc/rc); p=$(cat pre/rc)
echo "  $COMMITS commits: glibc $(cat glibc/time)s, preloaded $(cat pre/time)s; head $(sed -n '/^== head/{n;p}' glibc/out)"
status_logs "git driver" "$r" "$p" glibc/raw pre/raw
same "git output" glibc/out pre/out
grep -q '^== done' pre/out || bad "driver did not finish under ptalloc"
finish
