#!/usr/bin/env bash
# tests/test_aarch64.sh -- the appliance build: prs, its entry scripts and its Criterion tests
# cross-built for aarch64 (`ninja aarch64`, Debian's gcc-aarch64-linux-gnu and the arm64
# libraries through multiarch: tools/setup), run under qemu-user (qemu-aarch64, no binfmt).
#
#   tests/test_aarch64.sh      (exit 0 = pass, 77 = skipped: no cross toolchain, last line why)
#
# Checks: `file` says ARM aarch64; under qemu-user, which has no io_uring_setup (ENOSYS),
# --io auto reads sync and logs/sys/master.txt says so and why, and --io uring exits 2
# naming the reason (a test of the fallback); the release unit and end-to-end tests pass
# (the list below; the ones left out are named with the reason). The tests read entry
# scripts from build/examples/ and build/tests/, so they run in build/aarch64/tree/, whose
# build/ holds the aarch64 ones and a build/prs that runs build/aarch64/prs under qemu.
set -uo pipefail
cd "$(dirname "$0")/.."
top=$PWD
skip() { echo "test_aarch64: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

crit_lib=/usr/local/lib/prs-aarch64/libcriterion.so.3
command -v aarch64-linux-gnu-gcc >/dev/null || skip "no aarch64-linux-gnu-gcc (tools/setup installs gcc-aarch64-linux-gnu)"
qemu=$(command -v qemu-aarch64) || skip "no qemu-aarch64 (tools/setup installs qemu-user)"
[ -e "$crit_lib" ] || skip "no $crit_lib (tools/setup unpacks libcriterion3:arm64 there)"
[ -e /usr/lib/aarch64-linux-gnu/liblmdb.so ] || skip "no arm64 libraries (tools/setup: multiarch)"

nice ninja aarch64 >build/aarch64-build.log 2>&1 || fail "ninja aarch64: $(tail -20 build/aarch64-build.log)"
file -L build/aarch64/prs | grep -q "ARM aarch64" || fail "build/aarch64/prs: $(file -L build/aarch64/prs)"

# The tree the tests run in: the sources as they are, build/ the aarch64 outputs.
tree=build/aarch64/tree
rm -rf "$tree" && mkdir -p "$tree/build" || fail "cannot make $tree"
for f in *; do [ "$f" = build ] || ln -s "../../../$f" "$tree/$f"; done
ln -s ../../examples "$tree/build/examples"
ln -s ../../tests "$tree/build/tests"
printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$qemu" "$top/build/aarch64/prs" >"$tree/build/prs"
chmod +x "$tree/build/prs"
cd "$tree" || fail "cd $tree"

# PRS_QEMU: tests/qemu_exec.c runs Criterion's re-exec of a test binary through qemu.
# qemu-user maps no more than about 16 GiB in one mmap here (LMDB's default 64 GiB queue
# map: ENOMEM), so the queue's map is 4 GiB, which every test below fits in.
export PRS_QEMU=$qemu PRS_BIN=build/prs PRS_QUEUE_MAP_BYTES=$((4 << 30))
root=$(mktemp -d "${TMPDIR:-/tmp}/prs-aarch64.XXXXXX")
trap 'rm -rf "$root"' EXIT

# io_uring under qemu-user: the fallback, said in master.txt; --io uring refused.
mkdir -p "$root/in" && for i in 1 2 3; do echo "a b a" >"$root/in/f$i.txt"; done
opts=(--quiet --entry-script build/examples/wordcount.so --input "$root/in")
env -u PRS_IO build/prs run "${opts[@]}" --output "$root/auto" 2>"$root/auto.err" ||
    fail "--io auto under qemu: exit $?: $(cat "$root/auto.err")"
[ -s "$root/auto/parallel_run_step.txt" ] || fail "--io auto under qemu: no rows"
why=$(grep "input I/O (--io auto)" "$root/auto/logs/sys/master.txt")
grep -q "sync pread/mmap: .*io_uring_queue_init: Function not implemented" <<<"$why" ||
    fail "master.txt does not say the input is read sync because io_uring is missing: '$why'"
echo "ok   io_uring fallback: $why"
build/prs run "${opts[@]}" --io uring --output "$root/uring" 2>"$root/uring.err"
code=$?
[ "$code" -eq 2 ] || fail "--io uring under qemu: exit $code, not 2: $(cat "$root/uring.err")"
grep -q -- "--io uring: .*io_uring_queue_init" "$root/uring.err" || fail "--io uring: $(cat "$root/uring.err")"
echo "ok   --io uring exits 2: $(head -1 "$root/uring.err")"

# Left out under qemu-user (each with the reason; the x86_64 runs of tools/test keep them):
declare -A left_out=(
    [test_sidedb]="side tables map 256 GiB (LMDB): qemu-user's mmap fails (ENOMEM)"
    [test_side]="side tables (the 256 GiB map, as test_sidedb)"
    [test_tabular]="side tables (the 256 GiB map, as test_sidedb)"
    [test_misbehave]="one case opens a side table (the 256 GiB map, as test_sidedb)"
    [test_python]="Python tests are skipped under qemu (the host interpreter is x86_64)"
    [test_triage]="prs try --gdb/--valgrind drive x86_64 gdb and valgrind"
    [test_base]="hung once in 8 runs under qemu-user after 2 passing tests (cause not found yet; runs on x86_64 in release, ASan and TSan)"
    [test_shards]="prs submit runs helper scripts through posix_spawn, which qemu cannot chain"
)
passed=0 failed=0 skipped=0 bad=()
for t in build/tests/test_*; do
    name=$(basename "$t")
    [ -x "$t" ] || continue
    if [ -n "${left_out[$name]:-}" ]; then
        echo "left out $name: ${left_out[$name]}"; continue
    fi
    out="$root/$name.txt"
    timeout -k 10 300 "$qemu" "$t" --verbose >"$out" 2>&1
    rc=$?
    line=$(grep -a "Synthesis:" "$out" | tail -1)
    p=$(sed -E 's/.*Passing: ([0-9]+).*/\1/' <<<"$line")
    f=$(sed -E 's/.*Failing: ([0-9]+).*/\1/' <<<"$line")
    s=$(grep -a -c "^\[SKIP\]" "$out")
    if [ -z "$line" ] || [ "$rc" -ne 0 ] || [ "$f" != 0 ]; then
        bad+=("$name")
        echo "FAIL $name (exit $rc): ${line:-no summary (timed out or crashed)}"
        grep -a -E "FAIL|Assert|expression|not in|ERROR" -A2 "$out" | head -30
        cp "$out" "$top/build/aarch64-$name.txt"
        continue
    fi
    passed=$((passed + p)) skipped=$((skipped + s))
    note="" && [ "$s" != 0 ] && note=", $s skipped"
    echo "ok   $name: $p passed$note"
    grep -a "^\[SKIP\]" "$out" | head -3
done
((${#bad[@]})) && fail "aarch64 under qemu: ${bad[*]} (logs: build/aarch64-NAME.txt)"
echo "ok: aarch64 build; io_uring fallback under qemu; $passed tests passed, $skipped skipped, in ${SECONDS}s"
