#!/usr/bin/env bash
# test_stress.sh PRS_BIN -- a short tools/stress run: 20k small files under seeded faults
# (failed items, failed and flaky batches, crashes, hangs, slow items), 30+ kill -9s while
# the job runs (more jobs are started until 30 have landed), each followed by a resume; then
# the rows must be exactly the expected ones, each once, and the counts in prs status and
# overview.txt exact. Then the same faults from a Python entry script
# (tools/examples/faulty.py: host processes crash, hang and raise), 3000 files, 8+ kills
# landing after the hosts started. PRS_STRESS_SEED overrides the fixed seed (a failure
# prints it).
set -euo pipefail
cd "$(dirname "$0")/.."
prs=${1:-build/prs}
tools/stress --prs "$prs" --files 20000 --kills 30 --min-kills 30 --seconds 1000000 \
    --seed "${PRS_STRESS_SEED:-20261129}"
[ -x /usr/bin/python3 ] || { echo "skipped: the Python stress (no /usr/bin/python3)"; exit 0; }
exec tools/stress --prs "$prs" --entry tools/examples/faulty.py --files 3000 --kills 8 \
    --min-kills 8 --seconds 1000000 --min-delay 0.3 --max-delay 1.2 \
    --seed "${PRS_STRESS_SEED:-20261129}"
