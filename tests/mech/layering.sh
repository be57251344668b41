#!/usr/bin/env bash
# Which source files use which (docs/DESIGN-MAP.md, "How the files depend
# on each other"): from the objects of the variant under test (one per
# src/*.c; the release build's carry their code beside the LTO data), a
# file uses another when it refers to a function or variable
# the other defines.  Inline functions of the headers count as their
# callers' own.  The test fails when two files use each other and the
# pair is not one of the mutual pairs the design has, listed below with
# the reason each is mutual; and when a listed pair is no longer mutual
# (the list must stay true).
#   tests/mech/layering.sh [--graph]   --graph prints every file's uses
# (PTALLOC_VARIANT, set by tests/run.sh, picks the objects; default debug)
set -u
cd "$(dirname "$0")/../.."
case "${PTALLOC_VARIANT:-debug}" in
    release) objs=build/obj ;;
    *)       objs=build/${PTALLOC_VARIANT:-debug}/obj ;;
esac
[ -d "$objs" ] || { echo "layering: $objs missing (make lib debug ubsan)"; exit 2; }

# The design's mutual pairs (alphabetical order within a pair).
allowed="
free sysmem      free gives the top back to the system; a grown arena frees its old top
malloc sysmem    malloc asks the system for memory; the system hands it out from the new top
free tcache      free fills the cache; a flushed or spilled cache frees into the arena
free remote      free hands other arenas' chunks to the remote batch; collecting them frees
malloc memalign  memalign's arena step over-allocates with int_malloc; malloc's way into an arena serves aligned requests with it
api trace        the public functions hand a traced call to its recording wrapper, which runs the public function
arena trace      the trace writes the thread's state and takes the locks arena.c defines; arenas, threads and fork are recorded
trace walk       a trace starts with a snapshot, a heap walk; each ptalloc_walk is a checkpoint in the trace
decay free       a free that leaves a chunk able to hold a page reads the decay's clock, and a pass may run there; a pass merges the fastbins
"

edges=$(for o in "$objs"/*.o; do
    f=$(basename "$o" .o)
    nm --defined-only -g "$o" | awk -v f="$f" 'NF == 3 { print "D", $3, f }'
    nm -u "$o" | awk -v f="$f" '{ print "U", $2, f }'
done | awk '$1 == "D" { def[$2] = $3; next }
            { use[NR] = $3 " " $2 }
            END { for (i in use) { split(use[i], u, " ");
                                   if ((u[2] in def) && def[u[2]] != u[1]) print u[1], def[u[2]] } }' | sort -u)
[ -n "$edges" ] || { echo "layering: no uses found in $objs"; exit 2; }

if [ "${1:-}" = --graph ]; then
    echo "$edges" | awk '{ a[$1] = a[$1] " " $2 } END { for (k in a) print k ":" a[k] }' | sort
    exit 0
fi

fail=0
mutual=$(echo "$edges" | awk '{ e[$1 " " $2] = 1 } END { for (k in e) { split(k, p, " ");
             if ((p[2] " " p[1]) in e && p[1] < p[2]) print p[1], p[2] } }' | sort)
while read -r a b; do
    [ -n "$a" ] || continue
    if ! echo "$allowed" | grep -q "^$a $b "; then
        echo "layering: $a.c and $b.c use each other:"
        echo "$edges" | grep -E "^($a $b|$b $a)\$" | sed 's/^/    /'
        for o in "$a $b" "$b $a"; do
            set -- $o
            syms=$(nm -u "$objs/$1.o" | awk '{print $2}' | while read -r s; do
                       nm --defined-only -g "$objs/$2.o" | awk -v s="$s" '$3 == s { print s }'; done | tr '\n' ' ')
            echo "    $1.c uses of $2.c: $syms"
        done
        fail=1
    fi
done <<< "$mutual"
while read -r a b _; do
    [ -n "$a" ] || continue
    echo "$mutual" | grep -qx "$a $b" || { echo "layering: listed pair $a/$b is no longer mutual: update the list and DESIGN-MAP"; fail=1; }
done <<< "$allowed"
n=$(echo "$edges" | wc -l)
[ $fail -eq 0 ] && echo "layering: $n uses between files, mutual pairs only the design's: $(echo "$mutual" | tr '\n' ';')"
exit $fail
