# SPDX-License-Identifier: Apache-2.0
#
# The offline catalog: the production catalog's shape, buildable with no network beyond the
# Debian archive and a git daemon on 127.0.0.1 (examples/offline/prepare.sh). Run from the
# repository root after `stratum bootstrap debian --suite bookworm -t localhost/offline/debian:bookworm`:
#   stratum bake -f examples/offline/docker-bake.hcl
# examples/offline/demo.sh does all of it and prints the size table.

variable "REGISTRY" {
  default = "localhost/offline"
}

variable "BASE" {
  default = "localhost/offline/debian:bookworm"
}

# Where prepare.sh serves the fixture repositories.
variable "GIT_BASE" {
  default = "git://127.0.0.1:9418"
}

variable "OFFLINE" {
  default = "examples/offline"
}

group "default" {
  targets = ["python-base", "venv-builder", "python-runtime", "fastsum", "hello-svc", "fastsum-single", "hello-svc-single", "fastsum-missing-lib"]
}

group "services" {
  targets = ["fastsum", "hello-svc"]
}

target "_common" {
  args = {
    REGISTRY = REGISTRY
    BASE     = BASE
    GIT_BASE = GIT_BASE
  }
}

target "python-base" {
  inherits = ["_common"]
  context  = "${OFFLINE}/python-base"
  tags     = ["${REGISTRY}/python-base:bookworm"]
}

target "venv-builder" {
  inherits = ["_common"]
  context  = "${OFFLINE}/venv-builder"
  contexts = {
    "${REGISTRY}/python-base:bookworm" = "target:python-base"
  }
  tags = ["${REGISTRY}/venv-builder:bookworm"]
}

target "python-runtime" {
  inherits = ["_common"]
  context  = "${OFFLINE}/python-runtime"
  contexts = {
    "${REGISTRY}/python-base:bookworm" = "target:python-base"
  }
  tags = ["${REGISTRY}/python-runtime:bookworm"]
}

target "_service" {
  inherits = ["_common"]
  contexts = {
    "${REGISTRY}/venv-builder:bookworm"   = "target:venv-builder"
    "${REGISTRY}/python-runtime:bookworm" = "target:python-runtime"
  }
}

target "_single" {
  inherits   = ["_common"]
  dockerfile = "Dockerfile.single"
  contexts = {
    "${REGISTRY}/python-base:bookworm" = "target:python-base"
  }
}

target "fastsum" {
  inherits = ["_service"]
  context  = "${OFFLINE}/fastsum"
  args     = { PROJECT = "fastsum" }
  tags     = ["${REGISTRY}/fastsum:bookworm"]
}

target "hello-svc" {
  inherits = ["_service"]
  context  = "${OFFLINE}/hello-svc"
  args     = { PROJECT = "hello-svc" }
  tags     = ["${REGISTRY}/hello-svc:bookworm"]
}

# fastsum without the library its extension links: what `stratum verify` catches (demo.sh shows it).
target "fastsum-missing-lib" {
  inherits   = ["_service"]
  context    = "${OFFLINE}/fastsum"
  dockerfile = "Dockerfile.missing-lib"
  args       = { PROJECT = "fastsum" }
  tags       = ["${REGISTRY}/fastsum-missing-lib:bookworm"]
}

target "fastsum-single" {
  inherits = ["_single"]
  context  = "${OFFLINE}/fastsum"
  args     = { PROJECT = "fastsum" }
  tags     = ["${REGISTRY}/fastsum-single:bookworm"]
}

target "hello-svc-single" {
  inherits = ["_single"]
  context  = "${OFFLINE}/hello-svc"
  args     = { PROJECT = "hello-svc" }
  tags     = ["${REGISTRY}/hello-svc-single:bookworm"]
}
