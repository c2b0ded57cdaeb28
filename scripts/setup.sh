#!/usr/bin/env bash
# Create .venv and install EmbedLab's requirements (add "dev" for the test tools and chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
if [ "${1:-}" = "dev" ]; then
  .venv/bin/pip install -q -r requirements-dev.txt
  if ! command -v chromium >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  fi
else
  .venv/bin/pip install -q -r requirements.txt
fi
