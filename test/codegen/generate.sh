#!/usr/bin/env bash
# generate.sh regenerates the Workflow CRD's deepcopy functions and manifest
# from the kubebuilder markers in api/workflow/v1alpha1:
#   api/workflow/v1alpha1/zz_generated.deepcopy.go
#   api/workflow/v1alpha1/crd/workflow.federation.dev_workflows.yaml
# It installs controller-gen into $ROOT/bin/ first (once per version).
# api/workflow/v1alpha1/generated_test.go fails when these files are stale.
#
# With OUT=<dir>, the files are written under <dir> instead (same layout),
# which is how the staleness test compares them; CODEGEN_NO_INSTALL=1 makes
# it fail (exit 3) rather than install controller-gen.
set -euo pipefail

CONTROLLER_TOOLS_VERSION=v0.23.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BIN="$ROOT/bin"
CONTROLLER_GEN="$BIN/controller-gen"
STAMP="$BIN/.controller-gen.version"
OUT="${OUT:-$ROOT}"

mkdir -p "$BIN"
if [[ ! -x "$CONTROLLER_GEN" ]] || [[ "$(cat "$STAMP" 2>/dev/null)" != "$CONTROLLER_TOOLS_VERSION" ]]; then
	if [[ -n "${CODEGEN_NO_INSTALL:-}" ]]; then
		echo "codegen: $CONTROLLER_GEN is not controller-gen $CONTROLLER_TOOLS_VERSION; run test/codegen/generate.sh" >&2
		exit 3
	fi
	echo "codegen: installing controller-gen $CONTROLLER_TOOLS_VERSION into $BIN"
	GOBIN="$BIN" GOWORK=off go install "sigs.k8s.io/controller-tools/cmd/controller-gen@$CONTROLLER_TOOLS_VERSION"
	echo "$CONTROLLER_TOOLS_VERSION" >"$STAMP"
fi

PKG=./api/workflow/v1alpha1
cd "$ROOT"
mkdir -p "$OUT/api/workflow/v1alpha1/crd"
"$CONTROLLER_GEN" \
	object:headerFile=test/codegen/boilerplate.go.txt \
	paths="$PKG" \
	output:object:dir="$OUT/api/workflow/v1alpha1"
"$CONTROLLER_GEN" \
	crd \
	paths="$PKG" \
	output:crd:dir="$OUT/api/workflow/v1alpha1/crd"
