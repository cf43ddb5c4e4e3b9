#!/usr/bin/env bash
# Builds the pinned Kubernetes control plane (kube-apiserver, kube-controller-manager, kubectl), etcd,
# MinIO and Helm from the Go module proxy, because no binary can be downloaded on our machines.
# Results are cached by version outside the repository and reused:
#   $CACHE/kubebuilder-assets/<k8s version>/{kube-apiserver,kube-controller-manager,kubectl,etcd}
#   $CACHE/bin/minio-<version>/minio, $CACHE/bin/helm-<version>/helm
#   $CACHE/bin/fake-gcs-server-<version>/fake-gcs-server (Google Cloud Storage emulator, for the tests)
#   $CACHE/bin/kubeconform-<version>/kubeconform, $CACHE/bin/chart-check-<source hash>/chart-check
#   $CACHE/crds/<module>@<version>/ (third-party CRDs for kubeconform: Prometheus operator, Argo CD, Flux)
# CACHE defaults to ~/.cache/recording-operator (override with RECORDING_OPERATOR_CACHE).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
CACHE=${RECORDING_OPERATOR_CACHE:-$HOME/.cache/recording-operator}
export GOFLAGS=-buildvcs=false
log() { echo "[build-go-tools] $*" >&2; }

# The Go module every Kubernetes binary is built in: $CACHE/src/k8s-build-<version>
k8s_build_module() {
  local work="$CACHE/src/k8s-build-$KUBERNETES_VERSION"
  if [[ -f $work/go.sum && -f $work/cmd/etcd/main.go ]]; then echo "$work"; return; fi
  mkdir -p "$work/cmd/etcd"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging paths, which
  # a dependent module ignores: replace each with its published release instead.
  local kmod
  kmod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module recording-operator.local/k8s-build"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#replace \1 => \1 '"$KUBERNETES_STAGING_VERSION"'#p' "$kmod"
  } >"$work/go.mod"
  # etcd's own main module carries replace directives, so it cannot be built from the proxy directly;
  # etcdmain is the same entry point its main.go calls.
  cat >"$work/cmd/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  # No `go mod tidy`: nothing here imports k8s.io/kubernetes (it provides main packages), so tidy would
  # drop the pinned requirement; builds use -mod=mod, which adds only the missing indirect requirements.
  (cd "$work" && go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "k8s.io/kubernetes@$KUBERNETES_VERSION" >&2)
  echo "$work"
}

# Builds Kubernetes main packages (and ./cmd/etcd) of the pinned version into $2, stamped with the version.
k8s_go_build() { # work-dir out-dir package...
  local work=$1 out=$2; shift 2
  local major=${KUBERNETES_VERSION#v}; major=${major%%.*}
  local minor=${KUBERNETES_VERSION#v*.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=release-$KUBERNETES_VERSION"
  done
  mkdir -p "$out"
  (cd "$work" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "$ldflags" -o "$out/" "$@")
}

build_kubernetes() {
  local out="$CACHE/kubebuilder-assets/$KUBERNETES_VERSION"
  if [[ -x $out/kube-apiserver && -x $out/kube-controller-manager && -x $out/kubectl && -x $out/etcd ]]; then
    log "kubernetes $KUBERNETES_VERSION + etcd cached in $out"; return
  fi
  log "building kubernetes $KUBERNETES_VERSION and etcd $ETCD_VERSION (first time: tens of minutes on 2 cores)"
  k8s_go_build "$(k8s_build_module)" "$out" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kubectl ./cmd/etcd
  log "kubernetes binaries ready in $out"
}

# A node's side of the same version, for the real-container tests (test/harness/kubelet-node.ts): kubelet,
# kube-scheduler and kube-proxy. Separate from the control plane so that a cache made before it still counts.
build_kubernetes_node() {
  local out="$CACHE/kubebuilder-assets/$KUBERNETES_VERSION"
  if [[ -x $out/kubelet && -x $out/kube-scheduler && -x $out/kube-proxy ]]; then
    log "kubelet, kube-scheduler and kube-proxy $KUBERNETES_VERSION cached in $out"; return
  fi
  log "building kubelet, kube-scheduler and kube-proxy $KUBERNETES_VERSION (≈ 5-10 min on 2 cores)"
  k8s_go_build "$(k8s_build_module)" "$out" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
  log "node binaries ready in $out"
}

go_install_pinned() { # name module-path version [extra ldflags]
  local name=$1 pkg=$2 version=$3 extra_ldflags=${4:-} out="$CACHE/bin/$1-$3"
  if [[ -x $out/$name ]]; then log "$name $version cached in $out"; return; fi
  log "building $name $version"
  mkdir -p "$out"
  CGO_ENABLED=0 GOBIN="$out" go install -trimpath -ldflags "-s -w $extra_ldflags" "$pkg@$version"
  log "$name ready in $out"
}

# Helm's release build stamps its full version (v3.x.y) through ldflags; without it `helm version` says v3.x.
build_helm() { go_install_pinned helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"; }

# The project's own Go test tools in test/tools, each cached by a hash of its sources so an edit rebuilds
# it (test/harness/assets.ts computes the same hash): chart-check (Prometheus' PromQL parser, Argo CD's
# Lua runtime) and seccomp-default (containerd's RuntimeDefault seccomp profile, from containerd's code).
build_test_tool() { # name
  local name=$1 src="$here/../test/tools/$1" hash
  hash=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)
  local out="$CACHE/bin/$name-$hash"
  if [[ -x $out/$name ]]; then log "$name cached in $out"; return; fi
  log "building $name"
  mkdir -p "$out"
  (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/$name" .)
  log "$name ready in $out"
}

# CustomResourceDefinitions of the projects the chart and examples write objects for (ServiceMonitor and
# PrometheusRule; Argo CD's Application), taken from their Go modules, so kubeconform validates those
# objects against the real schemas: $CACHE/crds/<module>@<version>/*.yaml
fetch_third_party_crds() {
  local entry module version subdir out
  for entry in "github.com/prometheus-operator/prometheus-operator $PROMETHEUS_OPERATOR_VERSION example/prometheus-operator-crd" \
               "github.com/argoproj/argo-cd/v3 $ARGOCD_VERSION manifests/crds"; do
    read -r module version subdir <<<"$entry"
    out="$CACHE/crds/${module//\//_}@$version"
    if [[ -d $out ]]; then log "CRDs of $module $version cached in $out"; continue; fi
    local dir
    # Only the module's files are wanted; `go mod download` extracts them even when the module's own
    # go.mod asks for a newer Go than ours, so read Dir rather than trust the exit code.
    dir=$(cd "$CACHE" && { go mod download -json "$module@$version" || true; } | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [[ -n $dir && -d $dir/$subdir ]] || { log "could not fetch $module@$version"; return 1; }
    mkdir -p "$out.tmp"
    cp "$dir/$subdir"/*.yaml "$out.tmp/"
    rm -f "$out.tmp/kustomization.yaml"
    mv "$out.tmp" "$out"
    log "CRDs of $module $version in $out"
  done
}

# Flux publishes its CRDs only as release assets; they are generated by controller-gen from its API
# modules, so do the same here: $CACHE/crds/fluxcd@<helm-controller api>-<source-controller api>/
generate_flux_crds() {
  local out="$CACHE/crds/fluxcd@$FLUX_HELM_API_VERSION-$FLUX_SOURCE_API_VERSION"
  if [[ -d $out ]]; then log "Flux CRDs cached in $out"; return; fi
  local work="$CACHE/src/flux-crds"
  rm -rf "$work" && mkdir -p "$work"
  printf 'module recording-operator.local/flux-crds\n\ngo 1.26.0\n' >"$work/go.mod"
  cat >"$work/tools.go" <<'GO'
//go:build tools

package fluxcrds

import (
	_ "github.com/fluxcd/helm-controller/api/v2"
	_ "github.com/fluxcd/source-controller/api/v1"
	_ "sigs.k8s.io/controller-tools/cmd/controller-gen"
)
GO
  log "generating Flux CRDs with controller-gen $CONTROLLER_TOOLS_VERSION"
  (
    cd "$work"
    go get "github.com/fluxcd/helm-controller/api@$FLUX_HELM_API_VERSION" "github.com/fluxcd/source-controller/api@$FLUX_SOURCE_API_VERSION" "sigs.k8s.io/controller-tools@$CONTROLLER_TOOLS_VERSION"
    go mod tidy
    go run sigs.k8s.io/controller-tools/cmd/controller-gen crd paths=github.com/fluxcd/helm-controller/api/v2 paths=github.com/fluxcd/source-controller/api/v1 output:crd:dir="$out.tmp"
  )
  mv "$out.tmp" "$out"
  log "Flux CRDs in $out"
}

what=${1:-all}
case $what in
  kubernetes) build_kubernetes; build_kubernetes_node ;;
  minio) go_install_pinned minio github.com/minio/minio "$MINIO_VERSION" ;;
  fake-gcs-server) go_install_pinned fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKE_GCS_SERVER_VERSION" ;;
  helm) build_helm ;;
  chart-tools)
    go_install_pinned kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
    build_test_tool chart-check
    fetch_third_party_crds
    generate_flux_crds
    ;;
  image-tools) build_test_tool seccomp-default; build_test_tool pause ;;
  all)
    build_kubernetes
    build_kubernetes_node
    go_install_pinned minio github.com/minio/minio "$MINIO_VERSION"
    go_install_pinned fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKE_GCS_SERVER_VERSION"
    build_helm
    go_install_pinned kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
    build_test_tool chart-check
    build_test_tool seccomp-default
    build_test_tool pause
    fetch_third_party_crds
    generate_flux_crds
    ;;
  *) echo "usage: $0 [kubernetes|minio|fake-gcs-server|helm|chart-tools|image-tools|all]" >&2; exit 2 ;;
esac
