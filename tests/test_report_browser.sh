#!/usr/bin/env bash
# tests/test_report_browser.sh PRS -- the job report as a person sees it: a job with seeded
# item failures, crashes and hung run()s, `prs report`, then Debian's headless Chromium
# renders OUT/logs/report.html at 1280 px and at a phone's width. The screenshots must not
# be blank, and the rendered page's text must hold the job's counts from overview.txt.
set -euo pipefail
prs=${1:?usage: tests/test_report_browser.sh PRS}
chromium=$(command -v chromium) || { echo "FAIL: chromium is not installed (tools/setup installs it)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/prs-report-browser-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/in"
for i in $(seq -w 1 300); do echo "item $i" >"$tmp/in/f$i.txt"; done
rc=0
timeout 120 "$prs" run --quiet --entry-script build/examples/faulty.so --input "$tmp/in" \
    --output "$tmp/out" --mini-batch-size 3 --workers 2 --run-invocation-timeout 1 \
    -- --seed 11 --fail-rate 0.05 --crash-rate 0.01 --hang-rate 0.005 2>"$tmp/err.txt" || rc=$?
[ "$rc" -eq 0 ] || { echo "FAIL: prs run exit $rc"; cat "$tmp/err.txt"; exit 1; }
timeout 60 "$prs" report "$tmp/out" >/dev/null
page="$tmp/out/logs/report.html"
# Chromium as root needs --no-sandbox; its profile goes to the temporary directory.
shot() { # width height png
    timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$tmp/profile" --window-size="$1,$2" --screenshot="$3" "file://$page" \
        >"$tmp/chromium.txt" 2>&1 || { echo "FAIL: chromium"; tail -5 "$tmp/chromium.txt"; exit 1; }
}
shot 1280 2000 "$tmp/wide.png"
shot 390 2000 "$tmp/phone.png"
timeout 90 "$chromium" --headless --no-sandbox --disable-gpu --user-data-dir="$tmp/profile" \
    --dump-dom "file://$page" >"$tmp/dom.html" 2>/dev/null
/usr/bin/python3 - "$tmp/wide.png" "$tmp/phone.png" "$tmp/dom.html" "$tmp/out/logs/overview.txt" <<'PY'
import re, struct, sys, zlib

def pixels(path):
    """Decodes an 8-bit RGB/RGBA PNG (what Chromium writes) with the standard library."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path + ": not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), f"{path}: PNG type {ctype}/{depth}"
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw, stride, prev, rows, i = zlib.decompress(idat), w * bpp, None, [], 0
    for _ in range(h):
        f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        up = prev or bytearray(stride)
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = up[x], (up[x - bpp] if x >= bpp else 0)
            if f == 1: line[x] = (line[x] + a) & 255
            elif f == 2: line[x] = (line[x] + b) & 255
            elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line); prev = line
    return w, h, bpp, rows

for path in sys.argv[1:3]:
    w, h, bpp, rows = pixels(path)
    colours, ink = set(), 0
    for y in range(0, h, 3):
        r = rows[y]
        for x in range(0, w * bpp, bpp * 3):
            px = bytes(r[x:x + 3]); colours.add(px)
            ink += px != b"\xff\xff\xff"
    total = len(range(0, h, 3)) * len(range(0, w * bpp, bpp * 3))
    assert len(colours) > 20, f"{path}: {len(colours)} colours: blank?"
    assert ink > total * 0.03, f"{path}: only {ink} of {total} sampled pixels are not white"
    print(f"{path}: {w}x{h}, {len(colours)} colours, {100 * ink / total:.1f}% ink")

dom = open(sys.argv[3], encoding="utf-8").read()
text = re.sub(r"<[^>]+>", " ", dom)
overview = open(sys.argv[4]).read()
m = re.search(r"items: total (\d+), succeeded (\d+), failed (\d+)", overview)
assert m, "overview.txt has no items line"
for n in m.groups():
    assert re.search(r"\b" + n + r"\b", text), f"the page does not show {n} ({m.group(0)})"
state = re.search(r"state: (\w+)", overview).group(1)
assert state in text, f"the page does not show the state {state}"
for heading in ("Progress", "Timeline per worker", "Batch durations", "Errors", "Restarts"):
    assert heading in text, heading
print("page text holds", m.group(0), "and", state)
PY
echo "ok: report rendered and checked"
