#!/usr/bin/env bash
# tests/test_nouring.sh -- the io_uring-free build (`ninja nouring`, build/nouring/prs):
# it links no liburing, a job with --io auto runs on the sync path and logs/sys/master.txt
# says why, and --io uring is refused (exit 2) naming the reason.
#
#   tests/test_nouring.sh [PRS_BINARY]   (default build/nouring/prs; exit 0 = pass)
set -uo pipefail
cd "$(dirname "$0")/.."
prs=${1:-build/nouring/prs}
root=$(mktemp -d "${TMPDIR:-/tmp}/prs-nouring.XXXXXX")
trap 'rm -rf "$root"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

if ldd "$prs" | grep -q liburing; then fail "$prs links liburing"; fi
build/gen "$root/in" --files 30 --seed 2 >/dev/null || fail "cannot generate the dataset"
opts=(--quiet --entry-script build/examples/wordcount.so --input "$root/in")
env -u PRS_IO "$prs" run "${opts[@]}" --output "$root/auto" 2>"$root/auto.err" ||
    fail "--io auto: exit $?: $(cat "$root/auto.err")"
[ -s "$root/auto/parallel_run_step.txt" ] || fail "--io auto: no rows"
grep -q "input I/O (--io auto): sync pread/mmap: .*built without io_uring" "$root/auto/logs/sys/master.txt" ||
    fail "master.txt does not say why the input is read sync: $(grep -i 'input I/O' "$root/auto/logs/sys/master.txt")"
"$prs" run "${opts[@]}" --io uring --output "$root/uring" 2>"$root/uring.err"
code=$?
[ "$code" -eq 2 ] || fail "--io uring: exit $code, not 2"
grep -q -- "--io uring: .*built without io_uring" "$root/uring.err" || fail "--io uring: $(cat "$root/uring.err")"
echo "ok: no liburing; --io auto reads sync and says why; --io uring refused with the reason"
