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
# Then a job in a 120-column pane narrowed to 60 mid-run: one bar line that fits 59 columns.
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

# A resize mid-run: a job started in a 120-column pane below two lines of other output,
# narrowed to 60. The terminal sends SIGWINCH to its foreground group only (the
# supervisor's; the runtime has its own), so the supervisor must forward it; the runtime
# then asks the width again, clears the rows tmux wrapped the old bar onto (and nothing
# above them) and draws it at 59 columns. Without the forwarding the bar stays 120 columns
# wide (it wraps at every redraw); without the clearing the old bar's first row stays.
tmux -S "$sock" kill-server 2>/dev/null
rm -f "$root/exit"
tmux -S "$sock" new-session -d -x 120 -y 24 \
    "echo above-1; echo above-2; \
     $prs run --entry-script build/examples/faulty.so --input $root/in --output $root/out2 \
     --mini-batch-size 2 --workers 1 -- --sleep-us 100000; \
     echo EXIT=\$? > $root/exit; sleep 60"
bar_lines() { grep -v "^prs: " "$root/pane.txt" | grep "mini-batches"; }
wide=0
for i in $(seq 100); do # 10 s at most: the bar drawn at 120 columns
    [ -e "$root/exit" ] && break
    sleep 0.1
    tmux -S "$sock" capture-pane -p -J > "$root/pane.txt" || fail "capture-pane failed"
    width=$(bar_lines | awk '{ print length($0) }' | sort -n | tail -1)
    if [ -n "$width" ] && [ "$width" -gt 79 ]; then wide=$width; break; fi
done
[ "$wide" -gt 79 ] || fail "no bar wider than 79 columns in a 120-column pane"
tmux -S "$sock" resize-window -x 60 -y 24 || fail "resize-window failed"
fits=0
for i in $(seq 30); do # 3 s at most (the job runs 3 s more): the redraw after the resize
    [ -e "$root/exit" ] && break
    sleep 0.1
    tmux -S "$sock" capture-pane -p -J > "$root/pane.txt" || fail "capture-pane failed"
    bars=$(bar_lines | wc -l)
    width=$(bar_lines | awk '{ print length($0) }' | sort -n | tail -1)
    if [ "$bars" -eq 1 ] && [ "$width" -le 59 ]; then fits=1; break; fi
    [ "$bars" -le 1 ] || break
done
[ "$fits" -eq 1 ] || fail "after narrowing to 60 columns: $bars progress lines, the widest \
$width columns (the old bar's wrapped remainder, or a bar still drawn for 120 columns)"
# The whole pane, its history too (tmux moves the rows a reflow pushes off the top there).
tmux -S "$sock" capture-pane -p -J -S - > "$root/pane.txt" || fail "capture-pane failed"
[ "$(bar_lines | wc -l)" -eq 1 ] || fail "after narrowing: more than one progress line"
others=$(grep -v "mini-batches" "$root/pane.txt" | grep -v "^prs: " | grep . | tr '\n' ' ')
[ "$others" = "above-1 above-2 " ] || fail "after narrowing, besides the bar: '$others' \
(the old bar's wrapped rows left, or the lines above it erased)"
for i in $(seq 100); do # the job's end, 10 s at most
    [ -e "$root/exit" ] && break
    sleep 0.1
done
[ -e "$root/exit" ] || fail "the resized job did not end within 10 s"
grep -q "EXIT=0" "$root/exit" || fail "the resized job failed: $(cat "$root/exit")"
echo "test_progress: ok ($checked captures at 80 columns; narrowed from 120 to 60: redrawn at $width)"
