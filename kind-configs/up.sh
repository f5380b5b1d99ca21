#!/usr/bin/env bash
# Creates one kind host cluster and three kind member clusters, deploys the
# federation control plane to the host and a cluster agent to each member,
# and registers the members. Needs Docker, kind, kubectl and openssl; says
# what is missing and stops when one is absent.
#
#   bash kind-configs/up.sh          # or: make kind-up
#   bash kind-configs/down.sh        # deletes the four clusters
#
# Idempotent: clusters, secrets and registrations that exist are kept.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KIND_DIR="$ROOT/kind-configs"
WORK="${FEDERATION_KIND_DIR:-$ROOT/bin/kind}"
IMAGE="ghcr.io/federation-dev/federation:dev"
HOST="fed-host"
MEMBERS=(fed-member-1 fed-member-2 fed-member-3)
NS="federation-system"

missing=()
command -v docker >/dev/null 2>&1 || missing+=("docker (https://docs.docker.com/engine/install/)")
command -v kind >/dev/null 2>&1 || missing+=("kind (go install sigs.k8s.io/kind@latest)")
command -v kubectl >/dev/null 2>&1 || missing+=("kubectl (https://kubernetes.io/docs/tasks/tools/)")
command -v openssl >/dev/null 2>&1 || missing+=("openssl (apt-get install openssl)")
if ((${#missing[@]} == 0)) && ! docker info >/dev/null 2>&1; then
  missing+=("a running Docker engine that this user may use (docker info fails)")
fi
if ((${#missing[@]})); then
  echo "kind-up: cannot create the kind clusters; missing:" >&2
  for m in "${missing[@]}"; do echo "  - $m" >&2; done
  echo "Without Docker, 'make demo-k8s' runs the same federation on real API servers from the testbed (no containers)." >&2
  exit 1
fi

mkdir -p "$WORK"
log() { echo "kind-up: $*"; }

# 1. Clusters.
for name in "$HOST" "${MEMBERS[@]}"; do
  if kind get clusters 2>/dev/null | grep -qx "$name"; then
    log "cluster $name exists"
  else
    cfg="$KIND_DIR/host.yaml"
    [[ $name == "$HOST" ]] || cfg="$KIND_DIR/member-${name##*-}.yaml"
    log "creating cluster $name"
    kind create cluster --name "$name" --config "$cfg" --wait 120s
  fi
done

# 2. The image, built once and loaded into every cluster (no registry).
log "building $IMAGE"
docker build -q -f "$ROOT/deploy/docker/Dockerfile" -t "$IMAGE" "$ROOT" >/dev/null
for name in "$HOST" "${MEMBERS[@]}"; do
  kind load docker-image "$IMAGE" --name "$name"
done

# 3. Credentials: a CA and a server certificate valid for the in-cluster
# names, the host node's address (agents) and 127.0.0.1 (fedctl), and a
# token file with one admin and one agent token per member.
HOST_IP="$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$HOST-control-plane")"
if [[ ! -f $WORK/tls.crt ]]; then
  log "making a CA and the control plane's certificate"
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=federation-kind-ca" \
    -keyout "$WORK/ca.key" -out "$WORK/ca.crt" 2>/dev/null
  sans="DNS:federation.$NS.svc,DNS:federation-peers.$NS.svc,DNS:*.federation-peers.$NS.svc,IP:127.0.0.1,IP:$HOST_IP"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=federation" -keyout "$WORK/tls.key" -out "$WORK/tls.csr" 2>/dev/null
  openssl x509 -req -in "$WORK/tls.csr" -CA "$WORK/ca.crt" -CAkey "$WORK/ca.key" -CAcreateserial -days 365 \
    -extfile <(printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$sans") -out "$WORK/tls.crt" 2>/dev/null
fi
if [[ ! -f $WORK/tokens.csv ]]; then
  log "making tokens"
  {
    echo "$(openssl rand -hex 24),kind-admin,admin,"
    for m in "${MEMBERS[@]}"; do echo "$(openssl rand -hex 24),agent-$m,agent,$m"; done
  } >"$WORK/tokens.csv"
  chmod 600 "$WORK/tokens.csv"
fi
ADMIN_TOKEN="$(awk -F, '$3 == "admin" {print $1; exit}' "$WORK/tokens.csv")"

# 4. The control plane on the host.
kctx() { echo "kind-$1"; }
k() { local c="$1"; shift; kubectl --context "$(kctx "$c")" "$@"; }
k "$HOST" create namespace "$NS" --dry-run=client -o yaml | k "$HOST" apply -f - >/dev/null
k "$HOST" -n "$NS" create secret generic federation-tokens --from-file=tokens.csv="$WORK/tokens.csv" \
  --from-literal=join-token="$ADMIN_TOKEN" --dry-run=client -o yaml | k "$HOST" apply -f - >/dev/null
k "$HOST" -n "$NS" create secret generic federation-tls --from-file=tls.crt="$WORK/tls.crt" \
  --from-file=tls.key="$WORK/tls.key" --from-file=ca.crt="$WORK/ca.crt" --dry-run=client -o yaml | k "$HOST" apply -f - >/dev/null
log "deploying the control plane to $HOST"
k "$HOST" apply -k "$KIND_DIR/overlays/host" >/dev/null
k "$HOST" -n "$NS" rollout status statefulset/federation --timeout=300s

SERVER_IN="https://$HOST_IP:30443"
export FEDCTL_SERVER="https://127.0.0.1:30443" FEDCTL_TOKEN="$ADMIN_TOKEN" SSL_CERT_FILE="$WORK/ca.crt"
FEDCTL="$ROOT/bin/fedctl"
[[ -x $FEDCTL ]] || (cd "$ROOT" && go build -o bin/ ./cmd/fedctl)

# 5. An agent in each member, registered first so its lease has a cluster.
for m in "${MEMBERS[@]}"; do
  if ! "$FEDCTL" cluster get "$m" >/dev/null 2>&1; then
    log "registering $m"
    "$FEDCTL" cluster register "$m" --weight 1 --label "kind=true" --label "member=$m"
  fi
  token="$(awk -F, -v m="$m" '$3 == "agent" && $4 == m {print $1}' "$WORK/tokens.csv")"
  k "$m" create namespace federation-agent --dry-run=client -o yaml | k "$m" apply -f - >/dev/null
  k "$m" -n federation-agent create secret generic federation-agent-token --from-literal=token="$token" \
    --dry-run=client -o yaml | k "$m" apply -f - >/dev/null
  k "$m" -n federation-agent create secret generic federation-ca --from-file=ca.crt="$WORK/ca.crt" \
    --dry-run=client -o yaml | k "$m" apply -f - >/dev/null
  log "deploying the agent to $m"
  k "$m" kustomize "$KIND_DIR/overlays/member" | sed -e "s#CLUSTER_NAME#$m#" -e "s#SERVER_URL#$SERVER_IN#" | k "$m" apply -f - >/dev/null
  k "$m" -n federation-agent rollout status deployment/cluster-agent --timeout=180s
done

log "ready. Try:"
echo "  export FEDCTL_SERVER=$FEDCTL_SERVER FEDCTL_TOKEN=$ADMIN_TOKEN SSL_CERT_FILE=$WORK/ca.crt"
echo "  bin/fedctl cluster top"
echo "  dashboard: https://127.0.0.1:30443/ui/ (paste the admin token in the token field)"
