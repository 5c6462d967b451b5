#!/usr/bin/env bash
# Installs Mesa's software Vulkan driver (lavapipe), so WebGPU (Dawn, the `webgpu` package) has an
# adapter on a machine without a GPU and the WGSL kernels' tests can compare them with the cpu
# backend. Dawn needs Mesa >= 24 (Debian 12's 22.3 lacks features Dawn requires), so on Debian 12
# it comes from bookworm-backports. Test-only: never needed to train on the CPU or on a real GPU.
# Idempotent; exits 0 without doing anything when a new enough lavapipe is already there.
set -euo pipefail
have_lvp() {
  local status v
  status=$(dpkg-query -W -f='${db:Status-Status}' mesa-vulkan-drivers 2>/dev/null || true)
  v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ "$status" = installed ] && dpkg --compare-versions "$v" ge 24
}
if have_lvp; then exit 0; fi
if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
  echo "cannot install mesa-vulkan-drivers >= 24 here (needs root and apt-get)" >&2
  exit 1
fi
. /etc/os-release
added=""
if [ "${VERSION_CODENAME:-}" = bookworm ] && [ ! -f /etc/apt/sources.list.d/mtc-bookworm-backports.sources ]; then
  added=/etc/apt/sources.list.d/mtc-bookworm-backports.sources
  # taken out again if the install fails, so that apt's configuration is left as it was
  trap '[ -n "$added" ] && rm -f "$added"' ERR
  cat > "$added" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
target=()
[ "${VERSION_CODENAME:-}" = bookworm ] && target=(-t bookworm-backports)
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${target[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null
added=""
have_lvp
