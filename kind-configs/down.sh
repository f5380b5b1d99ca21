#!/usr/bin/env bash
# Deletes the kind clusters that up.sh created, and its credentials.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if ! command -v kind >/dev/null 2>&1; then
  echo "kind-down: kind is not installed: nothing to delete" >&2
  exit 0
fi
for name in fed-host fed-member-1 fed-member-2 fed-member-3; do
  kind delete cluster --name "$name"
done
rm -rf "${FEDERATION_KIND_DIR:-$ROOT/bin/kind}"
