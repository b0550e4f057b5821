# SPDX-License-Identifier: Apache-2.0
#
# The production catalog. Run from the repository root:
#   stratum bake -f images/docker-bake.hcl --print           # resolve the whole graph
#   stratum bake -f images/docker-bake.hcl nova              # nova and what it builds on
#   REGISTRY=registry.example.com/openstack stratum bake -f images/docker-bake.hcl --push
#
# Each image is tagged ${REGISTRY}/<name>:${RELEASE}. A Dockerfile's FROM names its base by that
# same reference, and `contexts` maps the reference to the bake target that builds it, so one
# bake run builds the chain in order (and a single `docker build` still works by pulling the
# published base).

variable "REGISTRY" {
  default = "registry.stratum.dev/openstack"
}

variable "RELEASE" {
  default = "2024.1"
}

# Where the image folders are, relative to the working directory (bake resolves contexts there).
variable "CATALOG" {
  default = "images"
}

group "default" {
  targets = ["openstack-runtime", "keystone", "glance", "placement", "nova", "neutron", "cinder", "heat", "horizon", "octavia", "barbican", "designate", "magnum", "manila", "ironic", "tempest", "python-openstackclient"]
}

group "base" {
  targets = ["ubuntu-cloud-archive", "python-base", "openstack-venv-builder", "openstack-runtime", "openstack-python-runtime"]
}

target "_common" {
  args = {
    REGISTRY = REGISTRY
    RELEASE  = RELEASE
  }
  labels = {
    "org.opencontainers.image.version" = RELEASE
  }
}

target "ubuntu-cloud-archive" {
  inherits = ["_common"]
  context  = "${CATALOG}/ubuntu-cloud-archive"
  tags     = ["${REGISTRY}/ubuntu-cloud-archive:${RELEASE}"]
}

target "python-base" {
  inherits = ["_common"]
  context  = "${CATALOG}/python-base"
  contexts = {
    "${REGISTRY}/ubuntu-cloud-archive:${RELEASE}" = "target:ubuntu-cloud-archive"
  }
  tags = ["${REGISTRY}/python-base:${RELEASE}"]
}

target "openstack-venv-builder" {
  inherits = ["_common"]
  context  = "${CATALOG}/openstack-venv-builder"
  contexts = {
    "${REGISTRY}/ubuntu-cloud-archive:${RELEASE}" = "target:ubuntu-cloud-archive"
    "${REGISTRY}/python-base:${RELEASE}"          = "target:python-base"
  }
  tags = ["${REGISTRY}/openstack-venv-builder:${RELEASE}"]
}

target "openstack-runtime" {
  inherits = ["_common"]
  context  = "${CATALOG}/openstack-runtime"
  contexts = {
    "${REGISTRY}/ubuntu-cloud-archive:${RELEASE}" = "target:ubuntu-cloud-archive"
  }
  tags = ["${REGISTRY}/openstack-runtime:${RELEASE}"]
}

target "openstack-python-runtime" {
  inherits = ["_common"]
  context  = "${CATALOG}/openstack-python-runtime"
  contexts = {
    "${REGISTRY}/python-base:${RELEASE}" = "target:python-base"
  }
  tags = ["${REGISTRY}/openstack-python-runtime:${RELEASE}"]
}

# Services: a build stage from the venv builder, a runtime stage from the Python runtime.
target "_service" {
  inherits = ["_common"]
  contexts = {
    "${REGISTRY}/openstack-venv-builder:${RELEASE}"   = "target:openstack-venv-builder"
    "${REGISTRY}/openstack-python-runtime:${RELEASE}" = "target:openstack-python-runtime"
  }
}

target "keystone" {
  inherits = ["_service"]
  context  = "${CATALOG}/keystone"
  args     = { PROJECT = "keystone" }
  tags     = ["${REGISTRY}/keystone:${RELEASE}"]
}

target "glance" {
  inherits = ["_service"]
  context  = "${CATALOG}/glance"
  args     = { PROJECT = "glance" }
  tags     = ["${REGISTRY}/glance:${RELEASE}"]
}

target "placement" {
  inherits = ["_service"]
  context  = "${CATALOG}/placement"
  args     = { PROJECT = "placement" }
  tags     = ["${REGISTRY}/placement:${RELEASE}"]
}

target "nova" {
  inherits = ["_service"]
  context  = "${CATALOG}/nova"
  args     = { PROJECT = "nova" }
  tags     = ["${REGISTRY}/nova:${RELEASE}"]
}

target "neutron" {
  inherits = ["_service"]
  context  = "${CATALOG}/neutron"
  args     = { PROJECT = "neutron" }
  tags     = ["${REGISTRY}/neutron:${RELEASE}"]
}

target "cinder" {
  inherits = ["_service"]
  context  = "${CATALOG}/cinder"
  args     = { PROJECT = "cinder" }
  tags     = ["${REGISTRY}/cinder:${RELEASE}"]
}

target "heat" {
  inherits = ["_service"]
  context  = "${CATALOG}/heat"
  args     = { PROJECT = "heat" }
  tags     = ["${REGISTRY}/heat:${RELEASE}"]
}

target "horizon" {
  inherits = ["_service"]
  context  = "${CATALOG}/horizon"
  args     = { PROJECT = "horizon" }
  tags     = ["${REGISTRY}/horizon:${RELEASE}"]
}

target "octavia" {
  inherits = ["_service"]
  context  = "${CATALOG}/octavia"
  args     = { PROJECT = "octavia" }
  tags     = ["${REGISTRY}/octavia:${RELEASE}"]
}

target "barbican" {
  inherits = ["_service"]
  context  = "${CATALOG}/barbican"
  args     = { PROJECT = "barbican" }
  tags     = ["${REGISTRY}/barbican:${RELEASE}"]
}

target "designate" {
  inherits = ["_service"]
  context  = "${CATALOG}/designate"
  args     = { PROJECT = "designate" }
  tags     = ["${REGISTRY}/designate:${RELEASE}"]
}

target "magnum" {
  inherits = ["_service"]
  context  = "${CATALOG}/magnum"
  args     = { PROJECT = "magnum" }
  tags     = ["${REGISTRY}/magnum:${RELEASE}"]
}

target "manila" {
  inherits = ["_service"]
  context  = "${CATALOG}/manila"
  args     = { PROJECT = "manila" }
  tags     = ["${REGISTRY}/manila:${RELEASE}"]
}

target "ironic" {
  inherits = ["_service"]
  context  = "${CATALOG}/ironic"
  args     = { PROJECT = "ironic" }
  tags     = ["${REGISTRY}/ironic:${RELEASE}"]
}

target "tempest" {
  inherits = ["_service"]
  context  = "${CATALOG}/tempest"
  args     = { PROJECT = "tempest" }
  tags     = ["${REGISTRY}/tempest:${RELEASE}"]
}

target "python-openstackclient" {
  inherits = ["_service"]
  context  = "${CATALOG}/python-openstackclient"
  args     = { PROJECT = "python-openstackclient" }
  tags     = ["${REGISTRY}/python-openstackclient:${RELEASE}"]
}
