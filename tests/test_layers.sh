#!/bin/bash
# test_layers.sh -- the layers hold at build level: io/ and storage/ may include only their
# own directory and core/base/ (README "How it works"). Two checks, both able to fail:
#  1. a probe placed in io/ (and storage/), compiled with exactly the command build.ninja
#     gives that directory's objects (ninja -t commands), must FAIL to compile when it
#     includes a core/ header ("prs.h", "coord.h") or the other layer's ("queue.h",
#     "reader.h"), and must compile when it includes "clock.h" (core/base/): the control;
#  2. a quoted include in io/ or storage/ must name a file of its own directory or of
#     core/base/ with no directory part: a relative path such as "../core/prs.h" resolves
#     against the including file's directory whatever the include flags say, so only this
#     scan catches it. The scan first runs on a planted "../core/prs.h" and must fail there.
# Run from the repository root (tools/test does, under timeout). Exit 0 or 1 with a message.
set -u
cd "$(dirname "$0")/.." || exit 1
fail=0
probes=()
cleanup() { rm -f "${probes[@]}"; }
trap cleanup EXIT

# The compile command build.ninja has for an object of dir, with src and out swapped in.
command_for() { # dir obj src out
    local cmd
    cmd=$(ninja -t commands "$2" | tail -1) || return 1
    cmd=${cmd/-MMD -MF $2.d /}
    cmd=${cmd/-c $1\/$(basename "${2%.o}").c/-c $3}
    printf '%s' "${cmd/-o $2/-o $4}"
}

probe() { # dir obj header want(ok|fail)
    local src="$1/.layers_probe_$$.c" out
    out=$(mktemp) || exit 1
    probes+=("$src" "$out")
    printf '#include "%s"\nint prs_layers_probe(void);\nint prs_layers_probe(void) { return 0; }\n' \
        "$3" >"$src"
    local cmd
    cmd=$(command_for "$1" "$2" "$src" "$out") || { echo "FAIL: no build command for $2"; fail=1; return; }
    case "$cmd" in *"-c $src"*) ;; *) echo "FAIL: cannot rewrite the command for $2: $cmd"; fail=1; return ;; esac
    if eval "$cmd" 2>/dev/null; then got=ok; else got=fail; fi
    if [ "$got" != "$4" ]; then
        echo "FAIL: $1/ including \"$3\" with build.ninja's flags: compile ${got}ed, want $4"
        fail=1
    fi
}

probe io build/obj/io/outfile.o prs.h fail
probe io build/obj/io/outfile.o coord.h fail
probe io build/obj/io/outfile.o queue.h fail
probe io build/obj/io/outfile.o clock.h ok
probe storage build/obj/storage/queue.o prs.h fail
probe storage build/obj/storage/queue.o worker.h fail
probe storage build/obj/storage/queue.o reader.h fail
probe storage build/obj/storage/queue.o clock.h ok

# Prints each quoted include of the files given that is neither in the file's own
# directory nor in core/base/ (or has a directory part); status 1 if any.
scan() {
    local bad=0 f inc
    for f in "$@"; do
        while IFS= read -r inc; do
            if [[ "$inc" == */* ]] || { [ ! -e "$(dirname "$f")/$inc" ] && [ ! -e "core/base/$inc" ]; }; then
                echo "$f: #include \"$inc\" is outside its directory and core/base/"
                bad=1
            fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
    done
    return $bad
}

planted="io/.layers_probe_$$.h"
probes+=("$planted")
printf '#include "../core/prs.h"\n' >"$planted"
if scan "$planted" >/dev/null; then
    echo "FAIL: the include scan passed a planted \"../core/prs.h\" in io/"
    fail=1
fi
rm -f "$planted"
if ! scan io/*.[ch] storage/*.[ch]; then
    echo "FAIL: io/ or storage/ includes a header outside core/base/ (above)"
    fail=1
fi

[ $fail = 0 ] && echo "layers: io/ and storage/ reach only core/base/ (8 probes, include scan)"
exit $fail
