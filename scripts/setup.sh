#!/usr/bin/env bash
# One-time (and idempotent) setup of everything the project needs on a fresh Debian machine:
#   1. Debian packages: Chromium, ffmpeg, Xvfb, PulseAudio, fonts, nginx with the RTMP module, OpenSSH,
#      for the images mmdebstrap (base filesystems), runc (running them) and binutils (strip), and for
#      the real test node containerd, the CNI plugins, iptables (kube-proxy) and iproute2;
#   2. npm dependencies (including Node 24 through the node@24 devDependency);
#   3. Kubernetes (control plane, kubelet, kube-scheduler, kube-proxy), etcd, MinIO and Helm built from
#      the Go module proxy (scripts/build-go-tools.sh), cached by version in ~/.cache/recording-operator.
# Each step skips what is already there, so a warm run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[setup] $*" >&2; }

debian_packages=(
  chromium ffmpeg xvfb pulseaudio pulseaudio-utils
  fonts-noto-core fonts-noto-cjk fonts-noto-color-emoji
  nginx libnginx-mod-rtmp openssh-server openssh-client
  util-linux procps
  mmdebstrap runc binutils
  containerd containernetworking-plugins iptables iproute2
)

install_debian_packages() {
  local missing=()
  for pkg in "${debian_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then log "Debian packages present"; return; fi
  log "installing Debian packages: ${missing[*]}"
  local sudo=()
  [[ $(id -u) == 0 ]] || sudo=(sudo)
  # Packages such as nginx and openssh-server would start system services on install; the tests run
  # their own instances on loopback, so keep the system ones stopped.
  local policy=/usr/sbin/policy-rc.d created_policy=false
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"
    created_policy=true
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if $created_policy; then "${sudo[@]}" rm -f "$policy"; fi
}

install_npm_packages() {
  if [[ -x node_modules/.bin/node && node_modules/.package-lock.json -nt package-lock.json ]]; then
    log "npm packages present"; return
  fi
  log "installing npm packages"
  npm ci --no-audit --no-fund
}

what=${1:-all}
case $what in
  debian) install_debian_packages ;;
  npm) install_npm_packages ;;
  go-tools) bash scripts/build-go-tools.sh all ;;
  all)
    install_debian_packages
    install_npm_packages
    bash scripts/build-go-tools.sh all
    log "done: run 'npm test' for the tests, 'npm run cluster' for a local control plane with MinIO"
    ;;
  *) echo "usage: $0 [debian|npm|go-tools|all]" >&2; exit 2 ;;
esac
