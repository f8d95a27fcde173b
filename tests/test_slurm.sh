#!/usr/bin/env bash
# tests/test_slurm.sh [PRS] -- a job as 4 shards on a real (one-node) Slurm cluster.
#
# Starts munged, slurmctld -D and slurmd -D as this test's own processes
# (tests/slurm_cluster.sh: generated slurm.conf, every state dir, pid file, log, munge key
# and socket in a temp dir), waits (bounded) until sinfo says idle, then:
#   1. runs the job on this machine (--workers 1: rows in batch order) as the reference;
#   2. prs submit --slurm --shards 4 of the same job;
#   3. scancels array task 1 once its shard has committed batches (mid-run), waits for the
#      other tasks, checks shard 1 is resumable, not finished;
#   4. prs submit --slurm --resume OUT: only shard 1 again, a new merge job;
#   5. waits for the merge job by polling squeue (bounded), then checks the merged output
#      equals the reference byte for byte (contiguous shards keep the order; so also as a
#      multiset) and overview.txt counts every item once.
# Every daemon is stopped by pid in an EXIT trap, even on failure; the whole test runs
# under timeout(1). Exit 0 pass, 1 fail, 77 skip (not root: slurmd must run jobs).
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PRS_SLURM_INNER:-}" ]; then
    # 250 s, then 30 s for the EXIT trap to drain and stop the cluster: inside tools/test's 300.
    PRS_SLURM_INNER=1 exec timeout -k 30 250 "$0" "$@"
fi
prs=$(realpath "${1:-build/prs}")
script=$(realpath build/examples/faulty.so)
if [ "$(id -u)" -ne 0 ]; then
    echo "skipped: needs root (slurmd runs each job as its submitter)"
    exit 77
fi
for tool in munged slurmctld slurmd sbatch squeue scancel sinfo; do
    command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin command -v "$tool" >/dev/null || {
        echo "FAIL: $tool is missing: tools/setup installs slurm-wlm and munge"
        exit 1
    }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prs-slurm-XXXXXX")
source tests/slurm_cluster.sh
done_ok=0
cleanup() {
    trap '' TERM INT # a second signal must not cut the cleanup short
    echo "stopping the cluster ($(date +%T))"
    slurm_stop
    echo "stopped ($(date +%T))"
    if [ "$done_ok" = 1 ]; then rm -rf "$tmp"; else echo "kept for a look: $tmp"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT
fail() {
    echo "FAIL: $*"
    for f in "$tmp"/out/slurm/*.out "$tmp/cluster/slurmctld.log" "$tmp/cluster/slurmd.log"; do
        [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }
    done
    exit 1
}
# wait_for SECONDS WHAT CMD...: polls CMD every 0.2 s until it succeeds.
wait_for() {
    local secs=$1 what=$2 i
    shift 2
    for i in $(seq 1 $((secs * 5))); do
        "$@" && return 0
        sleep 0.2
    done
    fail "$what: not after ${secs} s"
}

slurm_start "$tmp/cluster" || fail "the Slurm cluster did not start (above: why)"
echo "cluster up: $(sinfo -h -o '%P %a %D %t')"

build/gen "$tmp/in" --files 3000 >/dev/null || fail "gen"
# 300 batches of 10 files, 3 ms a file: ~2.3 s a shard, long enough to cancel one mid-run.
run_opts=(--entry-script "$script" --input "$tmp/in" --workers 1 --mini-batch-size 10)
init_args=(--sleep-us 3000 --fail-item 7.t)
"$prs" run --quiet "${run_opts[@]}" --output "$tmp/single" -- "${init_args[@]}" 2>"$tmp/single.err" ||
    fail "the single-machine run: $(cat "$tmp/single.err")"

"$prs" submit --slurm --shards 4 --sbatch-arg=--cpus-per-task=1 -- \
    "${run_opts[@]}" --output "$tmp/out" -- "${init_args[@]}" >"$tmp/submit1.txt" 2>&1 ||
    fail "prs submit: $(cat "$tmp/submit1.txt")"
cat "$tmp/submit1.txt"
array=$(sed -nE 's/.*Slurm job array ([0-9]+).*/\1/p' "$tmp/submit1.txt")
merge1=$(sed -nE 's/.*merge: +job ([0-9]+).*/\1/p' "$tmp/submit1.txt")
[ -n "$array" ] && [ -n "$merge1" ] || fail "no job ids in the output of prs submit"
grep -q '^#SBATCH --dependency' "$tmp/out/slurm/merge.sbatch" && fail "merge.sbatch should not hold the dependency (it is given at submission)"
grep -q -- '--shard "${SLURM_ARRAY_TASK_ID}/$N"' "$tmp/out/slurm/shards.sbatch" ||
    fail "shards.sbatch does not run the array task's shard"

shard1_started() {
    "$prs" status "$tmp/out" 2>/dev/null | grep -qE 'shard 1-of-4: running: mini-batches [1-9]'
}
wait_for 120 "shard 1 running with committed batches" shard1_started
scancel "${array}_1" || fail "scancel ${array}_1"
echo "cancelled array task ${array}_1 mid-run"
array_gone() { [ -z "$(squeue -h -j "$array" -o %i 2>/dev/null)" ]; }
wait_for 120 "the array's other tasks to end" array_gone
"$prs" status "$tmp/out" >"$tmp/status1.txt" 2>&1
cat "$tmp/status1.txt"
grep -q 'shard 1-of-4: stopped (resumable)' "$tmp/status1.txt" ||
    fail "shard 1 should be resumable after scancel"
[ "$(grep -c ': finished (exit 0)' "$tmp/status1.txt")" = 3 ] || fail "3 shards should have finished"
[ -e "$tmp/out/parallel_run_step.txt" ] && fail "merged before every shard finished"

"$prs" submit --slurm --resume "$tmp/out" >"$tmp/submit2.txt" 2>&1 ||
    fail "prs submit --resume: $(cat "$tmp/submit2.txt")"
cat "$tmp/submit2.txt"
grep -q '1 of 4 shards to run again: 1$' "$tmp/submit2.txt" || fail "--resume should rerun shard 1 only"
grep -q "cancelled the previous merge job $merge1" "$tmp/submit2.txt" ||
    fail "--resume should cancel the merge job that can no longer start"
merge2=$(sed -nE 's/.*merge: +job ([0-9]+).*/\1/p' "$tmp/submit2.txt")
[ -n "$merge2" ] || fail "no merge job id after --resume"
merge_gone() { [ -z "$(squeue -h -j "$merge2" -o %i 2>/dev/null)" ]; }
wait_for 180 "the merge job $merge2 to end" merge_gone

log="$tmp/out/slurm/merge-$merge2.out"
[ -f "$log" ] || fail "no merge log $log"
grep -q 'prs merge: SUCCEEDED: 4 shards merged' "$log" || fail "merge: $(cat "$log")"
cmp -s "$tmp/single/parallel_run_step.txt" "$tmp/out/parallel_run_step.txt" ||
    fail "the merged output differs from the single-machine run"
diff <(sort "$tmp/single/parallel_run_step.txt") <(sort "$tmp/out/parallel_run_step.txt") >/dev/null ||
    fail "the merged rows differ from the single-machine run as a multiset"
want=$(grep '^items:' "$tmp/single/logs/overview.txt")
got=$(grep '^items:' "$tmp/out/logs/overview.txt")
[ "$want" = "$got" ] || fail "overview: '$got', the single-machine run: '$want'"
grep -q 'created 300, processed 300' "$tmp/out/logs/overview.txt" || fail "overview batch counts"
echo "merged output == single-machine run ($(wc -l <"$tmp/out/parallel_run_step.txt") rows); $got"
done_ok=1
echo "ok"
