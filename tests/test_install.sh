#!/usr/bin/env bash
# tests/test_install.sh -- `ninja install` into a temporary DESTDIR, then an outside program
# built against the installed tree with pkg-config only, shared and static, that runs a
# job whose entry script is a .so, without -rdynamic.
#
#   tests/test_install.sh        (after `ninja release man`; exit 0 = pass)
#
# Checks: the installed files (prs, libprs.a, the libprs.so chain and its SONAME, headers
# under include/prs/, libprs.pc and libprs-static.pc, man pages, bash completion, LICENSE,
# the Python adapter, which the installed prs finds);
# libprs.so exports exactly core/libprs.map, which lists exactly the PRS_API functions of
# prs.h and prs_entry.h; the host's prs_version() and PRS_VERSION_* agree; the job's rows;
# and that the static host fails to load the script without libprs-static's exports (so
# the passing case proves something).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(mktemp -d "${TMPDIR:-/tmp}/prs-install.XXXXXX")
trap 'rm -rf "$root"' EXIT
cc=${CC:-gcc}
dest=$root/dest prefix=/opt/prs
fail() { echo "FAIL: $*"; exit 1; }

DESTDIR=$dest PREFIX=$prefix ninja install >"$root/install.log" 2>&1 ||
    fail "ninja install: $(tail -5 "$root/install.log")"
top=$dest$prefix
for f in bin/prs lib/libprs.a lib/libprs.so.0 lib/libprs.so include/prs/prs.h \
    include/prs/prs_entry.h lib/pkgconfig/libprs.pc lib/pkgconfig/libprs-static.pc \
    share/man/man1/prs.1 share/man/man1/prs-run.1 share/man/man1/prs-status.1 \
    share/man/man3/prs_entry.3 share/bash-completion/completions/prs share/doc/prs/LICENSE \
    share/prs/python/prs_host.py share/prs/python/azureml_user/parallel_run.py; do
    [ -e "$top/$f" ] || fail "not installed: $prefix/$f"
done
for page in "$top"/share/man/man*/*; do
    grep -q '^\.TH' "$page" || fail "$page is not a man page"
done
[ "$(readlink "$top/lib/libprs.so")" = libprs.so.0 ] || fail "libprs.so does not point to libprs.so.0"
real=$(readlink "$top/lib/libprs.so.0")
[[ $real == libprs.so.0.*.* ]] && [ -f "$top/lib/$real" ] || fail "libprs.so.0 -> '$real'"
readelf -d "$top/lib/$real" | grep -q 'SONAME.*\[libprs.so.0\]' || fail "$real: SONAME is not libprs.so.0"

# The exported API: the .so's dynamic symbols = the version script = the PRS_API headers.
nm -D --defined-only "$top/lib/$real" | awk '$3 ~ /^prs_/ {sub(/@.*/, "", $3); print $3}' |
    sort >"$root/exported"
grep -oE '^ +prs_[a-z_]+;' core/libprs.map | tr -d ' ;' | sort >"$root/map"
grep -ho '^PRS_API [^(]*(' core/prs.h core/prs_entry.h | sed -E 's/.*[ *](prs_[a-z_]+)\($/\1/' |
    sort >"$root/api"
# Every function the public headers declare, but the entry points a script defines, is API.
unmarked=$(grep -hE '^[a-z][^(]*[ *]prs_[a-z_]+\(' core/prs.h core/prs_entry.h |
    grep -vE '^PRS_API |^(int|void) prs_(init|run|shutdown|global_init|global_shutdown)\(')
[ -z "$unmarked" ] || fail "declared in a public header without PRS_API (not exported): $unmarked"
cmp -s "$root/exported" "$root/map" || fail "libprs.so exports other than core/libprs.map: $(diff "$root/map" "$root/exported")"
cmp -s "$root/api" "$root/map" || fail "core/libprs.map is not the PRS_API list: $(diff "$root/api" "$root/map")"
others=$(nm -D --defined-only "$top/lib/$real" | awk '$2 ~ /[TDBR]/ && $3 !~ /^prs_/ && $3 != "PRS_0"')
[ -z "$others" ] || fail "libprs.so exports non-API symbols: $others"

# An outside program: its own directory, the installed tree only.
mkdir -p "$root/host" "$root/in"
for i in 1 2 3 4 5 6 7; do printf 'item %d\n' "$i" >"$root/in/f$i.txt"; done
cat >"$root/host/script.c" <<'C'
#include <prs_entry.h>
#include <stdio.h>
int prs_run(prs_ctx *ctx, const prs_batch *batch, prs_out *out) {
    for (uint32_t i = 0; i < batch->count; i++) {
        char row[256];
        int n = snprintf(row, sizeof row, "%s\t%zu\tw%d", batch->items[i].name,
                         batch->items[i].size, prs_worker_id(ctx));
        if (batch->items[i].name[1] == '7') { /* f7.txt fails, with a reason */
            prs_fail_item(out, i, "seven is not scored");
            continue;
        }
        prs_emit(out, row, (size_t)n);
    }
    return 0;
}
C
cat >"$root/host/host.c" <<'C'
#include <prs.h>
#include <stdio.h>
#include <string.h>
#define S_(x) #x
#define S(x) S_(x)
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    const char *want = S(PRS_VERSION_MAJOR) "." S(PRS_VERSION_MINOR) "." S(PRS_VERSION_PATCH);
    if (strcmp(prs_version(), want) != 0) {
        fprintf(stderr, "prs_version() %s, header %s\n", prs_version(), want);
        return 3;
    }
    prs_job_config c;
    prs_job_config_defaults(&c);
    c.entry_script = argv[1];
    c.input = argv[2];
    c.output_dir = argv[3];
    c.mini_batch_size = 2;
    c.workers = 2;
    c.quiet = true;
    prs_job_report r;
    int code = prs_job_run(&c, &r);
    printf("exit %d: %llu succeeded, %llu failed: %s\n", code,
           (unsigned long long)r.succeeded_items, (unsigned long long)r.failed_items, r.message);
    return code == 0 && r.succeeded_items == 6 && r.failed_items == 1 ? 0 : 1;
}
C
# The .pc files give the final paths; the prefix is redefined to where they lie now.
pkg-config() { command pkg-config --define-variable=prefix="$top" "$@"; }
export PKG_CONFIG_PATH=$top/lib/pkgconfig
pcflags=$(pkg-config --cflags libprs | xargs) || fail "pkg-config --cflags libprs"
[ "$pcflags" = "-I$top/include/prs" ] || fail "pkg-config --cflags libprs: '$pcflags'"
# The script is built as the README says, with only the installed header.
$cc -std=c17 -O2 -fPIC -shared $pcflags -o "$root/host/script.so" "$root/host/script.c" \
    2>"$root/cc.err" || fail "building the entry script: $(cat "$root/cc.err")"

run_host() { # name; runs host NAME on a fresh OUT
    local out
    out=$("$root/host/$1" "$root/host/script.so" "$root/in" "$root/out-$1" 2>&1) ||
        fail "$1: $out"
    [ "$(wc -l <"$root/out-$1/parallel_run_step.txt")" -eq 6 ] || fail "$1: not 6 rows"
    grep -q "seven is not scored" "$root/out-$1/logs/user/error.txt" || fail "$1: no item error"
}

# Shared: links libprs.so.0 (found at run time through LD_LIBRARY_PATH: the DESTDIR is not
# the final place); the script resolves prs_emit in libprs.so.
# shellcheck disable=SC2046 # pkg-config's words are separate flags
$cc -std=c17 -o "$root/host/host-shared" "$root/host/host.c" $(pkg-config --cflags --libs libprs) \
    2>"$root/cc.err" || fail "shared host: $(cat "$root/cc.err")"
readelf -d "$root/host/host-shared" | grep -q 'NEEDED.*\[libprs.so.0\]' || fail "host-shared does not need libprs.so.0"
LD_LIBRARY_PATH=$top/lib run_host host-shared

# Static: libprs.a inside the host, no -rdynamic; libprs-static exports the entry API.
# shellcheck disable=SC2046
$cc -std=c17 -o "$root/host/host-static" "$root/host/host.c" $(pkg-config --cflags --libs libprs-static) \
    2>"$root/cc.err" || fail "static host: $(cat "$root/cc.err")"
readelf -d "$root/host/host-static" | grep -q 'NEEDED.*libprs' && fail "host-static needs a libprs.so"
run_host host-static

# The same static host without those exports cannot load the script: what the exports fix.
# shellcheck disable=SC2046
$cc -std=c17 -o "$root/host/host-bare" "$root/host/host.c" $pcflags -L"$top/lib" -l:libprs.a \
    $(sed -n 's/^libs = //p' build.ninja) 2>"$root/cc.err" ||
    fail "bare static host: $(cat "$root/cc.err")"
if out=$("$root/host/host-bare" "$root/host/script.so" "$root/in" "$root/out-bare" 2>&1); then
    fail "a static host without the exports ran the script: the check above proves nothing"
fi
grep -q "undefined symbol: prs_" <<<"$out" || grep -rqs "undefined symbol: prs_" "$root/out-bare" ||
    fail "the bare static host failed, but not for the missing symbols: $out"

# The installed prs finds its Python adapter in the installed tree (no source tree, no
# PRS_PYTHON_DIR): a Python entry script runs.
env -u PRS_PYTHON_DIR "$top/bin/prs" run --quiet --entry-script tests/python/echo.py \
    --input "$root/in" --output "$root/out-python" >"$root/python.log" 2>&1 ||
    fail "installed prs with a Python script: $(tail -5 "$root/python.log")"
[ "$(wc -l <"$root/out-python/parallel_run_step.txt")" -eq 7 ] || fail "installed prs, Python: not 7 rows"

ver=$("$top/bin/prs" --version) || fail "installed prs --version"
[ "$ver" = "prs $(sed -n 's/^version = //p' build.ninja)" ] || fail "installed prs --version: '$ver'"
echo "ok: installed under DESTDIR; shared and static hosts built with pkg-config ran a .so script"
