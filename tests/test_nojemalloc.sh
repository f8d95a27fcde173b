#!/usr/bin/env bash
# tests/test_nojemalloc.sh -- prs on glibc's malloc (`ninja nojemalloc`,
# build/nojemalloc/prs; the build for small devices): it links no libjemalloc, and a job
# gives the same rows as build/prs's (jemalloc) on the same input, with 1 and 2 workers.
#
#   tests/test_nojemalloc.sh [PRS_BINARY]   (default build/nojemalloc/prs; exit 0 = pass)
set -uo pipefail
cd "$(dirname "$0")/.."
prs=${1:-build/nojemalloc/prs}
root=$(mktemp -d "${TMPDIR:-/tmp}/prs-nojemalloc.XXXXXX")
trap 'rm -rf "$root"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

[ -x "$prs" ] || fail "$prs: not built (ninja nojemalloc)"
if ldd "$prs" | grep -q libjemalloc; then fail "$prs links libjemalloc"; fi
ldd build/prs | grep -q libjemalloc || fail "build/prs does not link libjemalloc: nothing compared"
build/gen "$root/in" --files 40 --seed 3 >/dev/null || fail "cannot generate the dataset"
for w in 1 2; do
    for bin in build/prs "$prs"; do
        out="$root/out-$w-$(basename "$(dirname "$bin")")"
        timeout 60 "$bin" run --quiet --workers "$w" --entry-script build/examples/wordcount.so \
            --input "$root/in" --output "$out" 2>"$out.err" || fail "$bin --workers $w: exit $?: $(cat "$out.err")"
        [ -s "$out/parallel_run_step.txt" ] || fail "$bin --workers $w: no rows"
        sort "$out/parallel_run_step.txt" >"$out.rows"
    done
    cmp -s "$root/out-$w-build.rows" "$root/out-$w-nojemalloc.rows" ||
        fail "--workers $w: rows differ from build/prs's"
done
echo "ok: no libjemalloc; the same rows as build/prs with 1 and 2 workers"
