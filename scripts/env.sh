# Sourced by the run and test scripts: the venv and bun on PATH.
# shellcheck disable=SC1091
. .venv/bin/activate
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
export REFLEX_USE_SYSTEM_BUN=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
