#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job on a fresh Debian/Ubuntu machine (as root): install prerequisites, build the offline
# demo catalog (Debian base, python base, venv builder, runtime, two services and their
# single-stage twins) and print what it built.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/prereqs.sh
exec bash examples/offline/demo.sh "$@"
