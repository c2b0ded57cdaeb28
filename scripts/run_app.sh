#!/usr/bin/env bash
# Set up and start the app on the bundled sample comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/streamlit run streamlit_app.py --server.headless true "$@"
