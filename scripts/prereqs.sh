#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what stratum and its tests need on Debian/Ubuntu (as root), then the npm dependencies.
# Idempotent: packages already present are skipped by apt; `npm ci` runs only when the lock changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  runc          # runs RUN steps (the OCI runtime)
  mmdebstrap    # bootstraps Debian base images
  git           # ADD of git sources; fixture repositories
  binutils      # readelf: stratum verify reads the dynamic sections of an image's ELF files
  attr          # getfattr/setfattr: overlayfs opaque dirs in layers
  zstd xz-utils bzip2  # zstd layers; ADD of compressed archives
  skopeo umoci  # independent judges of the OCI images in tests
  buildah       # the peer builder the tests and benchmark compare against
  docker-registry apache2-utils openssl  # a real registry on loopback (htpasswd, TLS) for tests
  chromium      # renders the bake report in tests
  openssh-client  # ssh-keygen: keys for the ssh cases of the bake parity corpus
  mariadb-server  # the database the real catalog's keystone and placement run against in tests
  python3-venv python3-pip  # a venv for uv (below) and pip download of the releases the tests mirror
  python3 ca-certificates util-linux iproute2
)
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/prereqs.sh must run as root (it installs packages with apt-get)" >&2
  exit 3
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# docker-registry's and mariadb's packages start services we do not use; tests start their own on free ports.
systemctl disable --now docker-registry mariadb >/dev/null 2>&1 || true

# uv resolves the real catalog's test constraints as PyPI had them on the release day (--exclude-newer);
# pinned, and kept between runs.
UV_VERSION=0.13.9
uv_dir=/var/tmp/stratum-tools/uv-$UV_VERSION
if [ ! -x "$uv_dir/bin/uv" ]; then
  mkdir -p /var/tmp/stratum-tools
  rm -rf "$uv_dir"
  python3 -m venv "$uv_dir"
  "$uv_dir/bin/pip" install -q "uv==$UV_VERSION"
fi

# buildx, built from its Go module, is the oracle of the bake parity test
# (test/integration/bake/buildx-parity.test.ts reads the version from this line). It is built once
# into a directory of its own under $STRATUM_TOOLS and reused; a build that fails leaves nothing.
BUILDX_VERSION=v0.38.2
tools=${STRATUM_TOOLS:-/var/tmp/stratum-tools}
buildx_dir="$tools/buildx-$BUILDX_VERSION"
if [ ! -x "$buildx_dir/buildx" ]; then
  if ! command -v go >/dev/null; then
    echo "building buildx $BUILDX_VERSION needs Go (1.26.8 or newer, https://go.dev/dl/) on the PATH" >&2
    exit 3
  fi
  rm -rf "$buildx_dir.partial"
  mkdir -p "$buildx_dir.partial"
  echo "building buildx $BUILDX_VERSION from its Go module into $buildx_dir (a few minutes, once)" >&2
  GOFLAGS=-mod=mod GOBIN="$buildx_dir.partial" go install "github.com/docker/buildx/cmd/buildx@$BUILDX_VERSION"
  mv "$buildx_dir.partial" "$buildx_dir"
fi

# BuildKit (buildkitd + buildctl), built from its Go module, is the oracle of
# test/integration/build/buildkit-oracle.test.ts (which reads the version from this line). `go install
# pkg@version` refuses this module (its go.mod has exclude directives), so the module's source is
# downloaded through the Go proxy and built where it lies, with its own go.mod; CGO off as BuildKit's
# release builds do. Built once into its own directory under $STRATUM_TOOLS; a failed build leaves nothing.
BUILDKIT_VERSION=v0.34.2
buildkit_dir="$tools/buildkit-$BUILDKIT_VERSION"
if [ ! -x "$buildkit_dir/buildkitd" ] || [ ! -x "$buildkit_dir/buildctl" ]; then
  if ! command -v go >/dev/null; then
    echo "building BuildKit $BUILDKIT_VERSION needs Go (1.26.8 or newer, https://go.dev/dl/) on the PATH" >&2
    exit 3
  fi
  echo "building BuildKit $BUILDKIT_VERSION from its Go module into $buildkit_dir (several minutes, once)" >&2
  mod_dir=$(cd /tmp && go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  src="$buildkit_dir.src"
  rm -rf "$buildkit_dir.partial" "$src"
  cp -r "$mod_dir" "$src" && chmod -R u+w "$src"
  mkdir -p "$buildkit_dir.partial"
  (cd "$src" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o "$buildkit_dir.partial/" ./cmd/buildkitd ./cmd/buildctl)
  rm -rf "$src"
  mv "$buildkit_dir.partial" "$buildkit_dir"
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "stratum needs Node.js 20 or newer; this machine has $(node --version) (see https://nodejs.org for packages)" >&2
  exit 3
fi
stamp=node_modules/.stratum-lock-sha
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
