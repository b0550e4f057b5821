# SPDX-License-Identifier: Apache-2.0
#
# The production catalog. Run from the repository root:
#   stratum bake -f images/docker-bake.hcl --print                 # resolve the whole graph
#   stratum bake -f images/docker-bake.hcl nova                    # nova and what it builds on
#   DISTRO=debian BASE_IMAGE=localhost/debian:bookworm stratum bake -f images/docker-bake.hcl keystone
#   REGISTRY=registry.example.com/openstack stratum bake -f images/docker-bake.hcl --push
#
# Each image is tagged ${REGISTRY}/<name>:${RELEASE}-${DISTRO}. A Dockerfile's FROM names its base
# by that same reference, and `contexts` maps the reference to the bake target that builds it, so
# one bake run builds the chain in order (and a single `docker build` still works by pulling the
# published base). Every variable can be overridden from the environment, as with buildx.

variable "REGISTRY" {
  default = "registry.stratum.dev/openstack"
}

# The OpenStack release: the refs in the Dockerfiles follow its stable branches.
variable "RELEASE" {
  default = "2025.2"
}

# "ubuntu": Ubuntu LTS with the Cloud Archive pocket of RELEASE (the seed's choice).
# "debian": Debian stable, whose python3 (3.11 in bookworm) is a supported runtime of 2025.2.
variable "DISTRO" {
  default = "ubuntu"
}

# The distribution images the catalog starts from; `stratum pin images/docker-bake.hcl` rewrites
# them to name:tag@sha256:digest.
variable "UBUNTU_IMAGE" {
  default = "docker.io/library/ubuntu:24.04"
}

variable "DEBIAN_IMAGE" {
  default = "docker.io/library/debian:12"
}

# Overrides the DISTRO's image above, e.g. a base made by `stratum bootstrap debian` where Docker
# Hub is out of reach. It must be of the DISTRO (openstack-base checks /etc/os-release).
variable "BASE_IMAGE" {
  default = ""
}

# Where git sources come from. A mirror keeps upstream's names below its base:
# ${OPENSTACK_GIT_BASE}/keystone.git, ${GITHUB_GIT_BASE}/novnc/noVNC.git. The build containers
# fetch from it too (`git fetch --unshallow` for pbr's versions), so a mirror must be reachable
# from a container on the host network: git://127.0.0.1 or http(s), not file://.
variable "OPENSTACK_GIT_BASE" {
  default = "https://opendev.org/openstack"
}

variable "GITHUB_GIT_BASE" {
  default = "https://github.com"
}

# Python packages: a local index (devpi, a PEP 503 directory served over http) replaces PyPI.
# PIP_TRUSTED_HOST names it when it is plain http.
variable "PIP_INDEX_URL" {
  default = "https://pypi.org/simple"
}

variable "PIP_TRUSTED_HOST" {
  default = "pypi.org"
}

# A PEM bundle to trust for TLS in the RUN steps that download (pip, git fetch), for builds behind
# a TLS-intercepting proxy: e.g. CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt on a host that trusts
# the proxy. It reaches the builds as the secret "ca-bundle", never a layer.
variable "CA_BUNDLE" {
  default = ""
}

# Where the image folders are, relative to the working directory (bake resolves contexts there).
variable "CATALOG" {
  default = "images"
}

group "default" {
  targets = ["services", "infra"]
}

group "services" {
  targets = ["keystone", "glance", "placement", "nova", "neutron", "cinder", "heat", "horizon", "octavia", "barbican", "designate", "magnum", "manila", "ironic", "tempest", "python-openstackclient"]
}

group "infra" {
  targets = ["libvirtd", "openvswitch", "ovn-central", "ovn-host", "keepalived", "nova-ssh"]
}

group "base" {
  targets = ["openstack-base", "python-base", "openstack-venv-builder", "openstack-runtime", "openstack-python-runtime"]
}

target "_common" {
  args = {
    REGISTRY = REGISTRY
    RELEASE  = RELEASE
    DISTRO   = DISTRO
    # Package names that differ between the distributions; everything else is spelled alike.
    LIBPYTHON_PACKAGE = { ubuntu = "libpython3.12t64", debian = "libpython3.11" }[DISTRO]
    LIBLDAP_PACKAGE   = { ubuntu = "libldap2", debian = "libldap-2.5-0" }[DISTRO]
    LIBATM_PACKAGE    = { ubuntu = "libatm1t64", debian = "libatm1" }[DISTRO]
  }
  labels = {
    "org.opencontainers.image.version" = RELEASE
  }
}

target "openstack-base" {
  inherits = ["_common"]
  context  = "${CATALOG}/openstack-base"
  args = {
    BASE_IMAGE = BASE_IMAGE != "" ? BASE_IMAGE : { ubuntu = UBUNTU_IMAGE, debian = DEBIAN_IMAGE }[DISTRO]
  }
  tags = ["${REGISTRY}/openstack-base:${RELEASE}-${DISTRO}"]
}

target "python-base" {
  inherits = ["_common"]
  context  = "${CATALOG}/python-base"
  contexts = {
    "${REGISTRY}/openstack-base:${RELEASE}-${DISTRO}" = "target:openstack-base"
  }
  tags = ["${REGISTRY}/python-base:${RELEASE}-${DISTRO}"]
}

# Targets whose Dockerfiles run pip or fetch git sources.
target "_sources" {
  args = {
    OPENSTACK_GIT_BASE = OPENSTACK_GIT_BASE
    GITHUB_GIT_BASE    = GITHUB_GIT_BASE
    PIP_INDEX_URL      = PIP_INDEX_URL
    PIP_TRUSTED_HOST   = PIP_TRUSTED_HOST
  }
  secret = CA_BUNDLE != "" ? ["id=ca-bundle,src=${CA_BUNDLE}"] : []
}

target "openstack-venv-builder" {
  inherits = ["_common", "_sources"]
  context  = "${CATALOG}/openstack-venv-builder"
  contexts = {
    "${REGISTRY}/openstack-base:${RELEASE}-${DISTRO}" = "target:openstack-base"
    "${REGISTRY}/python-base:${RELEASE}-${DISTRO}"    = "target:python-base"
  }
  tags = ["${REGISTRY}/openstack-venv-builder:${RELEASE}-${DISTRO}"]
}

target "openstack-runtime" {
  inherits = ["_common"]
  context  = "${CATALOG}/openstack-runtime"
  contexts = {
    "${REGISTRY}/openstack-base:${RELEASE}-${DISTRO}" = "target:openstack-base"
  }
  tags = ["${REGISTRY}/openstack-runtime:${RELEASE}-${DISTRO}"]
}

target "openstack-python-runtime" {
  inherits = ["_common"]
  context  = "${CATALOG}/openstack-python-runtime"
  contexts = {
    "${REGISTRY}/python-base:${RELEASE}-${DISTRO}" = "target:python-base"
  }
  tags = ["${REGISTRY}/openstack-python-runtime:${RELEASE}-${DISTRO}"]
}

# Services: a build stage from the venv builder, a runtime stage from the Python runtime.
target "_service" {
  inherits = ["_common", "_sources"]
  contexts = {
    "${REGISTRY}/openstack-venv-builder:${RELEASE}-${DISTRO}"   = "target:openstack-venv-builder"
    "${REGISTRY}/openstack-python-runtime:${RELEASE}-${DISTRO}" = "target:openstack-python-runtime"
  }
}

target "keystone" {
  inherits = ["_service"]
  context  = "${CATALOG}/keystone"
  args     = { PROJECT = "keystone" }
  tags     = ["${REGISTRY}/keystone:${RELEASE}-${DISTRO}"]
}

target "glance" {
  inherits = ["_service"]
  context  = "${CATALOG}/glance"
  args     = { PROJECT = "glance" }
  tags     = ["${REGISTRY}/glance:${RELEASE}-${DISTRO}"]
}

target "placement" {
  inherits = ["_service"]
  context  = "${CATALOG}/placement"
  args     = { PROJECT = "placement" }
  tags     = ["${REGISTRY}/placement:${RELEASE}-${DISTRO}"]
}

target "nova" {
  inherits = ["_service"]
  context  = "${CATALOG}/nova"
  args     = { PROJECT = "nova" }
  tags     = ["${REGISTRY}/nova:${RELEASE}-${DISTRO}"]
}

target "neutron" {
  inherits = ["_service"]
  context  = "${CATALOG}/neutron"
  args     = { PROJECT = "neutron" }
  tags     = ["${REGISTRY}/neutron:${RELEASE}-${DISTRO}"]
}

target "cinder" {
  inherits = ["_service"]
  context  = "${CATALOG}/cinder"
  args     = { PROJECT = "cinder" }
  tags     = ["${REGISTRY}/cinder:${RELEASE}-${DISTRO}"]
}

target "heat" {
  inherits = ["_service"]
  context  = "${CATALOG}/heat"
  args     = { PROJECT = "heat" }
  tags     = ["${REGISTRY}/heat:${RELEASE}-${DISTRO}"]
}

target "horizon" {
  inherits = ["_service"]
  context  = "${CATALOG}/horizon"
  args     = { PROJECT = "horizon" }
  tags     = ["${REGISTRY}/horizon:${RELEASE}-${DISTRO}"]
}

target "octavia" {
  inherits = ["_service"]
  context  = "${CATALOG}/octavia"
  args     = { PROJECT = "octavia" }
  tags     = ["${REGISTRY}/octavia:${RELEASE}-${DISTRO}"]
}

target "barbican" {
  inherits = ["_service"]
  context  = "${CATALOG}/barbican"
  args     = { PROJECT = "barbican" }
  tags     = ["${REGISTRY}/barbican:${RELEASE}-${DISTRO}"]
}

target "designate" {
  inherits = ["_service"]
  context  = "${CATALOG}/designate"
  args     = { PROJECT = "designate" }
  tags     = ["${REGISTRY}/designate:${RELEASE}-${DISTRO}"]
}

target "magnum" {
  inherits = ["_service"]
  context  = "${CATALOG}/magnum"
  args     = { PROJECT = "magnum" }
  tags     = ["${REGISTRY}/magnum:${RELEASE}-${DISTRO}"]
}

target "manila" {
  inherits = ["_service"]
  context  = "${CATALOG}/manila"
  args     = { PROJECT = "manila" }
  tags     = ["${REGISTRY}/manila:${RELEASE}-${DISTRO}"]
}

target "ironic" {
  inherits = ["_service"]
  context  = "${CATALOG}/ironic"
  args     = { PROJECT = "ironic" }
  tags     = ["${REGISTRY}/ironic:${RELEASE}-${DISTRO}"]
}

target "tempest" {
  inherits = ["_service"]
  context  = "${CATALOG}/tempest"
  args     = { PROJECT = "tempest" }
  tags     = ["${REGISTRY}/tempest:${RELEASE}-${DISTRO}"]
}

target "python-openstackclient" {
  inherits = ["_service"]
  context  = "${CATALOG}/python-openstackclient"
  args     = { PROJECT = "python-openstackclient" }
  tags     = ["${REGISTRY}/python-openstackclient:${RELEASE}-${DISTRO}"]
}

# Infrastructure beside the Python services: daemons from the distribution's packages, on the
# non-Python runtime. PROJECT names the user ONBUILD creates (uid/gid 42424): libvirtd and
# nova-ssh use nova's, so instance files on a shared volume keep one owner across the images.
target "_infra" {
  inherits = ["_common"]
  contexts = {
    "${REGISTRY}/openstack-runtime:${RELEASE}-${DISTRO}" = "target:openstack-runtime"
  }
}

target "libvirtd" {
  inherits = ["_infra"]
  context  = "${CATALOG}/libvirtd"
  args     = { PROJECT = "nova" }
  tags     = ["${REGISTRY}/libvirtd:${RELEASE}-${DISTRO}"]
}

target "openvswitch" {
  inherits = ["_infra"]
  context  = "${CATALOG}/openvswitch"
  args     = { PROJECT = "openvswitch" }
  tags     = ["${REGISTRY}/openvswitch:${RELEASE}-${DISTRO}"]
}

target "ovn-central" {
  inherits = ["_infra"]
  context  = "${CATALOG}/ovn-central"
  args     = { PROJECT = "ovn" }
  tags     = ["${REGISTRY}/ovn-central:${RELEASE}-${DISTRO}"]
}

target "ovn-host" {
  inherits = ["_infra"]
  context  = "${CATALOG}/ovn-host"
  args     = { PROJECT = "ovn" }
  tags     = ["${REGISTRY}/ovn-host:${RELEASE}-${DISTRO}"]
}

target "keepalived" {
  inherits = ["_infra"]
  context  = "${CATALOG}/keepalived"
  args     = { PROJECT = "keepalived" }
  tags     = ["${REGISTRY}/keepalived:${RELEASE}-${DISTRO}"]
}

target "nova-ssh" {
  inherits = ["_infra"]
  context  = "${CATALOG}/nova-ssh"
  args     = { PROJECT = "nova", SHELL = "/bin/bash" }
  tags     = ["${REGISTRY}/nova-ssh:${RELEASE}-${DISTRO}"]
}
