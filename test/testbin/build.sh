#!/usr/bin/env bash
# build.sh builds the member-cluster binaries the tests run (see test/testbed
# and /work/shared/TESTBED.md): etcd, kube-apiserver, kube-scheduler and kwok,
# all from Go modules through the module proxy, into $ROOT/bin/testbin/.
#
# It is idempotent: a binary is skipped when it exists and the stamp file
# records the version wanted here. Concurrent runs serialise on a lock file so
# the same binary is never built twice at once.
set -euo pipefail

K8S_VERSION=v1.37.2
STAGING_VERSION=v0.37.2
ETCD_VERSION=v3.6.6
KWOK_VERSION=v0.8.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${TESTBIN_DIR:-$ROOT/bin/testbin}"
STAMP="$OUT/.versions"
WORK="${XDG_CACHE_HOME:-$HOME/.cache}/federation-testbin"

mkdir -p "$OUT" "$WORK"
touch "$STAMP"

# Serialise concurrent runs (two `make testbin` at once would otherwise build
# the 170 MB apiserver twice on a 2-core machine).
exec 9>"$OUT/.build.lock"
if ! flock -n 9; then
	echo "testbin: another build holds $OUT/.build.lock; waiting"
	flock 9
fi

# The throwaway modules live outside the repository: no go.work or parent
# go.mod may leak into them.
export GOWORK=off
export GOFLAGS="${GOFLAGS:-} -mod=mod"

# want NAME VERSION: true when NAME must be (re)built.
want() {
	local name=$1 version=$2
	[[ -x "$OUT/$name" ]] && grep -qxF "$name $version" "$STAMP" && return 1
	return 0
}

# stamp NAME VERSION records that NAME was built at VERSION.
stamp() {
	local name=$1 version=$2 tmp
	tmp="$(mktemp "$STAMP.XXXXXX")"
	{ grep -v "^$name " "$STAMP" || true; echo "$name $version"; } >"$tmp"
	chmod 644 "$tmp"
	mv "$tmp" "$STAMP"
}

# build NAME VERSION PKG DIR: go build PKG from the module in DIR into $OUT/NAME.
build() {
	local name=$1 version=$2 pkg=$3 dir=$4 start
	start=$(date +%s)
	echo "testbin: building $name $version ($pkg)"
	(cd "$dir" && go build -trimpath -ldflags='-s -w' -o "$OUT/$name.tmp" "$pkg")
	mv "$OUT/$name.tmp" "$OUT/$name"
	stamp "$name" "$version"
	echo "testbin: built $name in $(($(date +%s) - start))s"
}

# k8smod writes the throwaway module for kube-apiserver/kube-scheduler:
# k8s.io/kubernetes points its staging modules at ./staging/..., which only
# exist in its own repository, so every one is replaced by its published tag.
k8smod() {
	local dir="$WORK/kubernetes-$K8S_VERSION" gomod
	if [[ -f "$dir/go.mod" ]] && grep -q '^replace' "$dir/go.mod"; then
		echo "$dir"
		return
	fi
	mkdir -p "$dir"
	(
		cd "$dir"
		printf 'module federation.local/testbin/kubernetes\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n' "$K8S_VERSION" >go.mod
		gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
		[[ -f "$gomod" ]] || { echo "testbin: no go.mod for k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
		mods="$(sed -n 's#^[[:space:]]*\(replace[[:space:]]\+\)\?\(k8s\.io/[^[:space:]]*\)[[:space:]]\+=>[[:space:]]\+\./staging/.*#\2#p' "$gomod")"
		[[ -n "$mods" ]] || { echo "testbin: no staging replaces found in $gomod" >&2; exit 1; }
		{
			echo
			echo 'replace ('
			for m in $mods; do echo "	$m => $m $STAGING_VERSION"; done
			echo ')'
		} >>go.mod
	) >&2
	echo "$dir"
}

if want etcd "$ETCD_VERSION"; then
	dir="$WORK/etcd-$ETCD_VERSION"
	mkdir -p "$dir"
	[[ -f "$dir/go.mod" ]] || printf 'module federation.local/testbin/etcd\n\ngo 1.26\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >"$dir/go.mod"
	build etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 "$dir"
else
	echo "testbin: etcd $ETCD_VERSION present"
fi

if want kwok "$KWOK_VERSION"; then
	dir="$WORK/kwok-$KWOK_VERSION"
	mkdir -p "$dir"
	[[ -f "$dir/go.mod" ]] || printf 'module federation.local/testbin/kwok\n\ngo 1.26\n\nrequire sigs.k8s.io/kwok %s\n' "$KWOK_VERSION" >"$dir/go.mod"
	build kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok "$dir"
else
	echo "testbin: kwok $KWOK_VERSION present"
fi

for name in kube-apiserver kube-scheduler; do
	if want "$name" "$K8S_VERSION"; then
		dir="$(k8smod)"
		build "$name" "$K8S_VERSION" "k8s.io/kubernetes/cmd/$name" "$dir"
	else
		echo "testbin: $name $K8S_VERSION present"
	fi
done

echo "testbin: binaries in $OUT"
