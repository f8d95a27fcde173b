#!/usr/bin/env bash
# tests/test_kill.sh -- the kill harness: `kill -9` at many seeded moments, resume each time.
#
#   tests/test_kill.sh PRS_BINARY [SEED]
#
# A job over 20,000 files (mini-batches of 7, 2 workers, a script that sleeps a little per
# item so the job lasts long enough to be killed often, and writes 1000 extra rows per
# batch so that rows not yet committed are in the output file when most kills land). Two interrupted runs, each on its
# own OUT: one kills the RUNTIME (the supervisor's child named prs-runtime) at 30+ moments, one kills the
# SUPERVISOR (`prs run` itself; the runtime dies with it) at 30+ moments; each kill is
# followed by the same `prs run` again. A kill "lands" when the process was alive and died
# of it. Afterwards both outputs must equal, as a multiset of rows, the output of an
# uninterrupted run, and overview.txt must count every item once.
# Then a Python job (tests/python/kill_job.py: one host process per worker) is killed the
# same way, `prs run` and with it the runtime and its hosts, at 5+ moments while its hosts
# run, and must end with the same rows as its own uninterrupted run.
# The kill moments are seeded (bash's RANDOM); the verdict does not depend on timing:
# wherever the kills land, the result must be the same. Exit 0 = pass; 77 = skipped.
set -uo pipefail
prs=${1:?usage: test_kill.sh PRS_BINARY [SEED]}
seed=${2:-1}
cd "$(dirname "$0")/.."
root=$(mktemp -d "${TMPDIR:-/tmp}/prs-kill.XXXXXX")
trap 'rm -rf "$root"' EXIT
files=20000
min_landed=30
max_lives=400 # a bound: the job is far shorter than this many lives
script=build/examples/faulty.so
opts=(--quiet --entry-script "$script" --input "$root/in" --mini-batch-size 7 --workers 2)
# --exit-rate: a first try that calls exit(0) at a seeded item, charged and retried (the
# rows do not change: run_max_try is 3).
args=(-- --sleep-us 150 --extra-rows 1000 --seed "$seed" --exit-rate 0.002)

build/gen "$root/in" --files "$files" --min-bytes 8 --max-bytes 64 --seed "$seed" >/dev/null ||
    { echo "cannot generate the dataset"; exit 1; }

fail() { echo "FAIL (seed $seed): $*"; exit 1; }

"$prs" run "${opts[@]}" --output "$root/ref" "${args[@]}" 2>"$root/ref.err" ||
    fail "the uninterrupted run failed: $(cat "$root/ref.err")"
sort "$root/ref/parallel_run_step.txt" >"$root/ref.sorted"
[ "$(grep -cP "\\tok$" "$root/ref.sorted")" -eq "$files" ] || fail "reference run: not $files rows"

# Ends the job on OUT: runs it again until it exits 0; 6 (a crash loop: kills landed
# before any progress) is resumable and run again. Anything else fails.
finish() { # out target
    local code
    for _ in 1 2 3 4 5; do
        "$prs" run "${opts[@]}" --output "$1" "${args[@]}" 2>>"$root/$2.err"; code=$?
        [ "$code" -eq 0 ] && return 0
        [ "$code" -eq 6 ] || fail "$2: the final run exited $code: $(tail -5 "$root/$2.err")"
    done
    fail "$2: no end after 5 final runs"
}

# Seeded 5..60 ms: from before the runtime exists to well into its run.
pause_ms() { sleep "0.$(printf '%03d' $((5 + RANDOM % 56)))"; }

# Kills the runtime under one supervisor, which restarts it, until min_landed kills landed.
kill_runtime() { # out; prints the kills landed
    local out=$1 landed=0 code sup victim
    RANDOM=$seed
    "$prs" run "${opts[@]}" --output "$out" "${args[@]}" 2>>"$root/runtime.err" &
    sup=$!
    for ((life = 0; life < max_lives && landed < min_landed; life++)); do
        pause_ms
        if ! kill -0 "$sup" 2>/dev/null; then
            wait "$sup"; code=$?
            [ "$code" -eq 6 ] || fail "runtime: prs run exited $code after $landed kills"
            "$prs" run "${opts[@]}" --output "$out" "${args[@]}" 2>>"$root/runtime.err" &
            sup=$!
            continue
        fi
        # Only the runtime: the supervisor's child named prs-runtime (core/supervisor.c sets
        # it), never another child such as LeakSanitizer's tracer of an exiting ASan
        # supervisor (killing that left the supervisor spinning forever). The name is read
        # again just before the kill: a child not yet renamed is left alone this time.
        victim=$(pgrep -P "$sup" -x prs-runtime | head -1)
        [ -n "$victim" ] && [ "$(cat "/proc/$victim/comm" 2>/dev/null)" = prs-runtime ] &&
            kill -9 "$victim" 2>/dev/null && landed=$((landed + 1))
    done
    wait "$sup"; code=$?
    [ "$code" -eq 0 ] || [ "$code" -eq 6 ] || fail "runtime: prs run exited $code"
    finish "$out" runtime
    echo "$landed"
}

# Kills `prs run` itself (the runtime dies with it) and runs it again, min_landed times.
kill_supervisor() { # out; prints the kills landed
    local out=$1 landed=0 code sup
    RANDOM=$seed
    for ((life = 0; life < max_lives && landed < min_landed; life++)); do
        "$prs" run "${opts[@]}" --output "$out" "${args[@]}" 2>>"$root/supervisor.err" &
        sup=$!
        pause_ms
        if kill -9 "$sup" 2>/dev/null; then
            wait "$sup" 2>/dev/null
            landed=$((landed + 1))
        else
            wait "$sup"; code=$?
            [ "$code" -eq 0 ] && fail "supervisor: the job ended after only $landed kills"
            [ "$code" -eq 6 ] || fail "supervisor: prs run exited $code"
        fi
    done
    finish "$out" supervisor
    echo "$landed"
}

for target in runtime supervisor; do
    out=$root/$target
    landed=$("kill_$target" "$out") || { echo "$landed"; exit 1; }
    [ "$landed" -ge "$min_landed" ] || fail "$target: only $landed kills landed"
    sort "$out/parallel_run_step.txt" >"$out.sorted"
    cmp -s "$root/ref.sorted" "$out.sorted" ||
        fail "$target: rows differ from the uninterrupted run: $(diff "$root/ref.sorted" "$out.sorted" | head -5)"
    grep -q "items: total $files, succeeded $files, failed 0" "$out/logs/overview.txt" ||
        fail "$target: overview counts: $(head -5 "$out/logs/overview.txt")"
    echo "ok: $landed kills of the $target landed; $files rows equal the uninterrupted run's"
done

# ---- a Python job: kill -9 of the whole prs while its host processes run --------------------
[ -x /usr/bin/python3 ] || { echo "skipped: the Python job (no /usr/bin/python3)"; exit 0; }
py_files=6000
py_opts=(--quiet --entry-script tests/python/kill_job.py --input "$root/pyin" --mini-batch-size 7
    --workers 2)
build/gen "$root/pyin" --files "$py_files" --min-bytes 8 --max-bytes 64 --seed "$seed" >/dev/null ||
    fail "cannot generate the Python dataset"
"$prs" run "${py_opts[@]}" --output "$root/pyref" 2>"$root/pyref.err" ||
    fail "python: the uninterrupted run failed: $(cat "$root/pyref.err")"
sort "$root/pyref/parallel_run_step.txt" >"$root/pyref.sorted"
[ "$(grep -cP "\\tok$" "$root/pyref.sorted")" -eq "$py_files" ] || fail "python reference: not $py_files rows"
RANDOM=$seed
landed=0
for ((life = 0; life < 60 && landed < 8; life++)); do
    "$prs" run "${py_opts[@]}" --output "$root/py" 2>>"$root/py.err" &
    sup=$!
    sleep "0.$(printf '%03d' $((300 + RANDOM % 600)))" # past the hosts' start: 0.3..0.9 s
    if kill -9 "$sup" 2>/dev/null; then
        wait "$sup" 2>/dev/null
        landed=$((landed + 1))
    else
        wait "$sup"; code=$?
        [ "$code" -eq 0 ] && break # the job ended between two kills
        [ "$code" -eq 6 ] || fail "python: prs run exited $code: $(tail -3 "$root/py.err")"
    fi
done
[ "$landed" -ge 5 ] || fail "python: only $landed kills landed"
for _ in 1 2 3; do
    "$prs" run "${py_opts[@]}" --output "$root/py" 2>>"$root/py.err" && break
done
sort "$root/py/parallel_run_step.txt" >"$root/py.sorted"
cmp -s "$root/pyref.sorted" "$root/py.sorted" ||
    fail "python: rows differ from the uninterrupted run: $(diff "$root/pyref.sorted" "$root/py.sorted" | head -5)"
grep -q "items: total $py_files, succeeded $py_files, failed 0" "$root/py/logs/overview.txt" ||
    fail "python: overview counts: $(head -5 "$root/py/logs/overview.txt")"
echo "ok: $landed kills of a Python job landed; $py_files rows equal the uninterrupted run's"
