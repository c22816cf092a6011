#!/usr/bin/env bash
# Idempotent set-up: virtualenv, Python packages, bun (Reflex's JS runtime, from npm).
# Usage: scripts/setup.sh [--dev]   (--dev adds test tools and Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY="$candidate"; break; fi
  done
fi
[ -n "$PY" ] || { echo "error: Python 3.11 is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "==> creating virtualenv (.venv)"
  "$PY" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate

req="requirements.txt"
[ "${1:-}" = "--dev" ] && req="requirements-dev.txt"
stamp=".venv/.installed-$(cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)-${req%.txt}"
if [ ! -f "$stamp" ]; then
  echo "==> installing Python packages from $req"
  python -m pip install --quiet --disable-pip-version-check --upgrade pip
  python -m pip install --quiet --disable-pip-version-check -r "$req"
  touch "$stamp"
fi

if [ ! -x .tools/node_modules/.bin/bun ]; then
  echo "==> installing bun from the npm registry into .tools/"
  npm install --prefix .tools --no-audit --no-fund --loglevel=error bun@1.4.4
fi

if [ "${1:-}" = "--dev" ] && ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing Chromium for browser tests"
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
