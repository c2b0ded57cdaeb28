#!/usr/bin/env bash
# Set up (venv, requirements, chromium) and run every test.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev || exit 1
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
.venv/bin/python -m pytest -q -ra "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi
exit $rc
