#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Turns the fixture sources in fixtures/<project>/ into git repositories with deterministic
# commits (fixed identity, dates and file modes, so every machine gets the same hashes that the
# Dockerfiles pin), and serves them with git daemon so `ADD git://127.0.0.1:PORT/<project>.git#<commit>`
# and `git fetch --unshallow` inside build containers work without any network beyond loopback.
#
#   prepare.sh [--port PORT] [--no-daemon] WORKDIR
#
# Writes WORKDIR/refs.env (NAME_GIT_REF=<commit> per project, GIT_BASE=git://127.0.0.1:PORT) and,
# with the daemon, WORKDIR/git-daemon.pid. Stop the daemon with: kill "$(cat WORKDIR/git-daemon.pid)"
set -euo pipefail

port=9418
daemon=1
while [ $# -gt 0 ]; do
    case "$1" in
        --port) port="$2"; shift 2 ;;
        --no-daemon) daemon=0; shift ;;
        -h|--help) sed -n '3,14p' "$0"; exit 0 ;;
        -*) echo "prepare.sh: unknown option $1" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -eq 1 ] || { echo "usage: prepare.sh [--port PORT] [--no-daemon] WORKDIR" >&2; exit 2; }

here="$(cd "$(dirname "$0")" && pwd)"
work="$(mkdir -p "$1" && cd "$1" && pwd)"
mkdir -p "$work/src" "$work/git"

# Only what is set here may influence the commits.
export GIT_CONFIG_NOSYSTEM=1 HOME="$work" GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME="Stratum Fixtures" GIT_AUTHOR_EMAIL="fixtures@stratum.invalid"
export GIT_COMMITTER_NAME="Stratum Fixtures" GIT_COMMITTER_EMAIL="fixtures@stratum.invalid"
export GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"

: > "$work/refs.env.tmp"
for project in requirements fastsum hello-svc; do
    wt="$work/src/$project"
    rm -rf "$wt" "$work/git/$project.git"
    mkdir -p "$wt"
    cp -R "$here/fixtures/$project/." "$wt/"
    find "$wt" -type d -exec chmod 755 {} +
    find "$wt" -type f -exec chmod 644 {} +
    git -C "$wt" init -q -b main
    git -C "$wt" -c core.autocrlf=false -c core.fileMode=true add -A
    git -C "$wt" -c commit.gpgSign=false commit -q -m "Import $project"
    git clone -q --bare "$wt" "$work/git/$project.git"
    var="$(echo "$project" | tr 'a-z-' 'A-Z_')_GIT_REF"
    echo "$var=$(git -C "$wt" rev-parse HEAD)" >> "$work/refs.env.tmp"
done
echo "GIT_BASE=git://127.0.0.1:$port" >> "$work/refs.env.tmp"
mv "$work/refs.env.tmp" "$work/refs.env"

# The Dockerfiles pin these commits; a mismatch means the fixtures changed without a ref bump.
status=0
while IFS='=' read -r var ref; do
    case "$var" in *_GIT_REF) ;; *) continue ;; esac
    for f in $(grep -l "^ARG $var=" "$here"/*/Dockerfile*); do
        pinned="$(sed -n "s/^ARG $var=//p" "$f")"
        if [ "$pinned" != "$ref" ]; then
            echo "prepare.sh: $f pins $var=$pinned but the fixture commit is $ref" >&2
            echo "  (refresh with: stratum update examples/offline, while this daemon runs on port 9418)" >&2
            status=1
        fi
    done
done < "$work/refs.env"

if [ "$daemon" = 1 ]; then
    if [ -f "$work/git-daemon.pid" ] && kill -0 "$(cat "$work/git-daemon.pid")" 2>/dev/null; then
        kill "$(cat "$work/git-daemon.pid")" || true
        sleep 0.2
    fi
    git daemon --reuseaddr --export-all --base-path="$work/git" --listen=127.0.0.1 --port="$port" \
        --detach --pid-file="$work/git-daemon.pid" "$work/git"
    for _ in $(seq 1 50); do
        if git ls-remote "git://127.0.0.1:$port/requirements.git" >/dev/null 2>&1; then break; fi
        sleep 0.1
    done
    git ls-remote "git://127.0.0.1:$port/requirements.git" >/dev/null
fi
cat "$work/refs.env"
exit $status
