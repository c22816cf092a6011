#!/usr/bin/env bash
# One command to set up and start everything: Redis (embedded unless REDIS_URL), migrations,
# demo data on first run, one RQ worker and the Reflex app.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/env.sh

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

MODE="${APP_ENV:-development}"
if [ "$MODE" = "production" ]; then
  reflex run --env prod --frontend-port "${PORT:-8000}" --backend-port "${PORT:-8000}" --backend-host 0.0.0.0
else
  echo "==> open http://localhost:${FRONTEND_PORT:-3000} (first-run login: see above, or data/first-login.txt)"
  reflex run
fi
