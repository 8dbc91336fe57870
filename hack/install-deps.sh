#!/usr/bin/env bash
# Installs, with apt, what Skiff and its tests need on Debian 12. Idempotent:
# packages already present are left alone and apt is not touched at all then.
set -euo pipefail

PACKAGES=(
  runc                          # default OCI runtime
  conmon                        # per-container monitor
  containernetworking-plugins   # bridge, host-local, portmap, loopback (in /usr/lib/cni)
  iptables                      # used by the bridge and portmap plugins
  iproute2                      # ip netns / link inspection in tests
  util-linux                    # unshare, nsenter, mount
  socat                         # dialling into pod network namespaces in tests
  iputils-ping                  # reachability checks in tests
  catatonit                     # the pause process of infra containers (test pause image)
  procps                        # sysctl
  docker-registry               # the local registry tests pull from
  busybox-static                # the userland of the images tests build
  skopeo                        # pushing test images into the registry
  umoci                         # building OCI image layouts in tests
  attr                          # setfattr: layer xattrs and overlay opaque markers (Node has no setxattr)
  zstd                          # compressing zstd test layers
  gcc                           # builds native/spawner.c, the small process launcher
  libc6-dev
  ca-certificates
  openssl                       # self-signed certificates for the registry TLS tests
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: must run as root to install packages" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The Debian registry package starts a registry service on :5000 where an init
# system runs it; tests start their own on random loopback ports instead.

# A default pod network (bridge + portmap) when the node has none yet.
cni_dir=/etc/cni/net.d
if ! ls "$cni_dir"/*.conflist "$cni_dir"/*.conf "$cni_dir"/*.json >/dev/null 2>&1; then
  mkdir -p "$cni_dir"
  install -m 0644 "$(dirname "$0")/../deploy/cni/10-skiff.conflist" "$cni_dir/10-skiff.conflist"
  echo "install-deps: installed $cni_dir/10-skiff.conflist"
fi
