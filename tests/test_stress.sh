#!/usr/bin/env bash
# test_stress.sh PRS_BIN -- a short tools/stress run: 20k small files under seeded faults
# (failed items, failed and flaky batches, crashes, hangs, slow items), 30+ kill -9s while
# the job runs (more jobs are started until 30 have landed), each followed by a resume; then
# the rows must be exactly the expected ones, each once, and the counts in prs status and
# overview.txt exact. PRS_STRESS_SEED overrides the fixed seed (a failure prints it).
set -euo pipefail
cd "$(dirname "$0")/.."
prs=${1:-build/prs}
exec tools/stress --prs "$prs" --files 20000 --kills 30 --min-kills 30 --seconds 1000000 \
    --seed "${PRS_STRESS_SEED:-20261129}"
