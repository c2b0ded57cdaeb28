#!/usr/bin/env bash
# Set up and start the app on the bundled sample comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m app_support.serve --server.headless true "$@"
