#!/usr/bin/env bash
# One command to set up and start everything: Redis (embedded unless REDIS_URL), migrations,
# demo data on first run, one RQ worker and the app.
#
#   bash scripts/run.sh          the production build on one port (PORT, default 3000): no code
#                                watcher, nothing restarts while you work
#   bash scripts/run.sh --dev    developer mode: hot reload of the code only (marketing_ui/,
#                                workers/), frontend on 3000 and backend on 8000
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=""
[ "${1:-}" = "--dev" ] && DEV="--dev"
scripts/setup.sh
. scripts/env.sh

export PORT="${PORT:-3000}"
if [ -n "$DEV" ]; then
  export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://localhost:${FRONTEND_PORT:-3000}}"
  export PUBLIC_API_URL="${PUBLIC_API_URL:-http://localhost:${BACKEND_PORT:-8000}}"
else
  export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://localhost:$PORT}"
fi
python -m marketing_ui.cli check-config
if [ -z "${REDIS_URL:-}" ]; then
  REDIS_URL="$(python -m marketing_ui.cli embedded-redis)"
  export REDIS_URL
  echo "==> embedded Redis at $REDIS_URL"
fi
python -m marketing_ui.cli migrate
python -m marketing_ui.cli seed-demo

mkdir -p data
python -m workers.run >data/worker.log 2>&1 &
WORKER_PID=$!
trap 'kill $WORKER_PID 2>/dev/null || true' EXIT INT TERM
echo "==> worker started (pid $WORKER_PID, log data/worker.log)"
echo "==> open $PUBLIC_BASE_URL (first-run login: see above, or data/first-login.txt)"
python -m marketing_ui.cli serve $DEV
