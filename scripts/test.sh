#!/usr/bin/env bash
# Set up (scripts/setup.sh), then run the whole check: lint, format, types, spec layout, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff" && .venv/bin/ruff check netdsl tests benchmarks scripts
echo "== ruff format" && .venv/bin/ruff format --check netdsl
echo "== mypy" && .venv/bin/mypy
echo "== netdsl fmt --check" && .venv/bin/netdsl fmt --check specs/ examples/
echo "== pytest" && .venv/bin/python -m pytest -q "$@"
