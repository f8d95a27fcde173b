#!/usr/bin/env bash
# tests/test_progress.sh -- the progress bar in a real terminal of 80 columns (tmux).
#
#   tests/test_progress.sh [PRS_BINARY]
#
# A job long enough to watch (60 files, 50 ms each, one worker) whose script writes a line
# to stderr per item, run in a detached tmux pane of 80x24. While it runs, the pane is
# captured (wrapped lines joined, -J) a few times: exactly one line holds the bar (it is
# redrawn in place, never scrolled), that line fits in 79 columns (no wrapped remainder),
# and every copied stderr line of the script stands alone (the bar was cleared before it).
# Exit 0 = pass, 1 = fail, 77 = skipped (no tmux).
set -uo pipefail
prs=${1:-build/prs}
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "test_progress: tmux missing (tools/setup installs it)"; exit 77; }
root=$(mktemp -d "${TMPDIR:-/tmp}/prs-progress.XXXXXX")
sock="$root/tmux.sock"
trap 'tmux -S "$sock" kill-server 2>/dev/null; rm -rf "$root"' EXIT
build/gen "$root/in" --files 60 >/dev/null || { echo "cannot generate the dataset"; exit 1; }
tmux -S "$sock" new-session -d -x 80 -y 24 \
    "$prs run --entry-script build/examples/faulty.so --input $root/in --output $root/out \
     --mini-batch-size 2 --workers 1 -- --sleep-us 50000 --print-each; \
     echo EXIT=\$? > $root/exit; sleep 60"
fail() { echo "test_progress: $*"; cat "$root/pane.txt"; exit 1; }
checked=0
for i in $(seq 100); do # 10 s at most
    [ -e "$root/exit" ] && break
    sleep 0.1
    tmux -S "$sock" capture-pane -p -J > "$root/pane.txt" || fail "capture-pane failed"
    grep -q "working on" "$root/pane.txt" || continue
    bars=$(grep -v "^prs: " "$root/pane.txt" | grep -c "mini-batches")
    [ "$bars" -le 1 ] || fail "$bars progress lines on the screen (a redraw scrolled)"
    [ "$bars" -eq 1 ] || continue
    width=$(grep -v "^prs: " "$root/pane.txt" | grep "mini-batches" | awk '{ print length($0) }')
    [ "$width" -le 79 ] || fail "the progress line is $width columns wide on an 80-column terminal"
    if grep "working on" "$root/pane.txt" | grep -qv '^faulty: working on f[0-9]*\.txt$'; then
        fail "a copied stderr line shares its line with the bar"
    fi
    checked=$((checked + 1))
done
[ -e "$root/exit" ] || fail "the job did not end within 10 s"
grep -q "EXIT=0" "$root/exit" || fail "the job failed: $(cat "$root/exit")"
[ "$checked" -ge 3 ] || fail "only $checked captures showed the bar while the job ran"
echo "test_progress: ok ($checked captures at 80 columns)"
