#!/usr/bin/env bash
# Regenerate the diagrams the README shows (docs/images/) with `netdsl render`.
# Needs graphviz's `dot` (scripts/setup.sh installs it). Run after changing the
# renderer's style or the specs drawn; commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
NETDSL=${NETDSL:-.venv/bin/netdsl}

"$NETDSL" render specs/lenet5.net -o docs/images/lenet5.svg
"$NETDSL" render specs/resnet50.net -o docs/images/resnet50.svg
