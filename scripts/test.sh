#!/usr/bin/env bash
# One command to set up and run every test: lint, unit, integration (real Redis + DBs), browser.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --dev
. scripts/env.sh

if [ -z "${REDIS_URL:-}" ]; then
  if python -c "import redis,sys; redis.Redis(host='127.0.0.1',port=6379,socket_connect_timeout=1).ping()" 2>/dev/null; then
    export REDIS_URL="redis://127.0.0.1:6379/0"
  elif [ "${CI:-}" = "true" ]; then
    echo "error: CI needs Redis at 127.0.0.1:6379" >&2; exit 1
  else
    DATA_DIR="$PWD/data/test-redis" REDIS_URL="$(DATA_DIR="$PWD/data/test-redis" python -m marketing_ui.cli embedded-redis)"
    export REDIS_URL
    echo "==> no Redis on 6379: using embedded Redis at $REDIS_URL"
  fi
fi

echo "==> ruff"
ruff check .
ruff format --check .
echo "==> pytest"
python -m pytest "$@"
