#!/usr/bin/env bash
# Set up everything netdsl needs on a fresh Debian machine: the graphviz `dot`
# program (Debian package), a virtual environment at .venv, and netdsl with its
# dependencies (torch 2.14.1 + torchvision 0.29.1, the pair this machine serves
# from local disk). Safe to run again: it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dot >/dev/null 2>&1; then
    echo "setup: installing graphviz (Debian package, for the 'dot' program)" >&2
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
    if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq graphviz >/dev/null; }; then
        echo "setup: could not install graphviz; 'netdsl render' will only write --format dot" >&2
        echo "setup: install it with: sudo apt-get install graphviz" >&2
    fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv" >&2
    "$PY" -m venv .venv
fi

stamp=.venv/.netdsl-setup-stamp
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing netdsl and its dependencies into .venv (torch takes about a minute)" >&2
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1"
    .venv/bin/python -m pip install -q -e ".[dev]"
    echo "$want" > "$stamp"
fi
