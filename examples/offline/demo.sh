#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Builds the offline catalog end to end and prints what the seed claims, measured:
#   1. prepare.sh: fixture git repositories (deterministic commits) served by git daemon
#   2. stratum bootstrap: the Debian bookworm base, localhost/offline/debian:bookworm
#   3. stratum bake: python-base, venv-builder, python-runtime, the services and their
#      single-stage twins, each also written as an OCI layout under $WORK/out/<target>
#   4. the report: sizes, layers, packages; each service's console script run as its user
#   5. stratum verify: the services pass; fastsum-missing-lib (its runtime lacks the library its
#      extension links) must fail
#
# Environment: STRATUM_DEMO_DIR (work dir, default /var/tmp/stratum-offline-demo),
# GIT_PORT (default 9418), STRATUM (the stratum command, default: this checkout's bin/stratum).
# Needs root (the engine runs build steps in runc) and the Debian archive; nothing else.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
work="${STRATUM_DEMO_DIR:-/var/tmp/stratum-offline-demo}"
port="${GIT_PORT:-9418}"
read -r -a stratum <<< "${STRATUM:-$root/bin/stratum}"
targets=(python-base venv-builder python-runtime fastsum hello-svc fastsum-single hello-svc-single fastsum-missing-lib)

step() { printf '\n==> %s\n' "$*"; }

step "fixture repositories on git://127.0.0.1:$port"
examples/offline/prepare.sh --port "$port" "$work"
trap 'kill "$(cat "$work/git-daemon.pid" 2>/dev/null)" 2>/dev/null || true' EXIT

step "Debian bookworm base"
"${stratum[@]}" bootstrap debian --suite bookworm -t localhost/offline/debian:bookworm

step "bake the offline catalog"
rm -rf "$work/out"
sets=()
for t in "${targets[@]}"; do
    sets+=(--set "$t.output=type=oci,dest=$work/out/$t,tar=false")
done
GIT_BASE="git://127.0.0.1:$port" "${stratum[@]}" bake -f examples/offline/docker-bake.hcl "${sets[@]}" "${targets[@]}"

step "report"
node --import tsx "$root/src/catalog/offline-demo.ts" "$work/out" --json "$work/report.json"

step "verify what was built"
"${stratum[@]}" verify localhost/offline/fastsum:bookworm localhost/offline/hello-svc:bookworm
printf '\nfastsum-missing-lib copies the venv but not libyaml, which its extension links; verify must say so:\n'
if "${stratum[@]}" verify localhost/offline/fastsum-missing-lib:bookworm; then
    echo "demo.sh: verify passed fastsum-missing-lib, which cannot run" >&2
    exit 1
fi
echo "caught: the image builds, but its console script could never start"
