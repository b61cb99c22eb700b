#!/usr/bin/env bash
# scripts/e2e-cluster.sh: the end-to-end check of a deployed sluice, against
# any cluster kubectl reaches (KUBECONFIG set), after `kubectl apply -k
# deploy/` with the image on the nodes. It starts, as an operator would:
#   - namespace sluice-e2e: a PostgreSQL (postgres:15) behind a Service with
#     the ClusterIP deploy/config.json's example-pg target matches
#     (10.96.54.32, inside kubeadm's default service range 10.96.0.0/12),
#     and its password as the held credential (Secret sluice-credentials);
#   - namespace agents: an unmodified "agent" pod (stock kubectl and psql
#     images) with its service-account token, allowed to list pods.
# Then the agent runs kubectl (to the kubernetes Service) and psql (a read,
# allowed; a write, refused for review by deploy/policies/default.json),
# and the sessions are read in the sluice pod of the agent's node with
# `sluice -j session list`: both targets, the agent pod's identity on each.
# Needs the pod interception of issue 8 (pod callers redirected to
# listen.node). Exit 0 pass, 1 fail. Leaves its namespaces (E2E_CLEANUP=1
# removes them).
set -euo pipefail
: "${KUBECONFIG:?set KUBECONFIG to the kubeconfig of the cluster}"
PG_IP=${PG_IP:-10.96.54.32}
KUBECTL_IMAGE=${KUBECTL_IMAGE:-bitnami/kubectl:latest}
PG_IMAGE=${PG_IMAGE:-postgres:15}
k() { kubectl "$@"; }
log() { printf '[e2e %s] %s\n' "$(date +%T)" "$*" >&2; }
fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

k -n sluice-system rollout status ds/sluice --timeout=180s ||
	fail "DaemonSet sluice not ready (kubectl apply -k deploy/ first)"

# --- the database and its held credential -----------------------------------
pw=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
k create namespace sluice-e2e --dry-run=client -o yaml | k apply -f - >/dev/null
k -n sluice-e2e create secret generic pg --from-literal=password="$pw" \
	--dry-run=client -o yaml | k apply -f - >/dev/null
k -n sluice-system create secret generic sluice-credentials --from-literal=pg.pass="$pw" \
	--dry-run=client -o yaml | k apply -f - >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: pg, namespace: sluice-e2e}
spec:
  selector: {matchLabels: {app: pg}}
  template:
    metadata: {labels: {app: pg}}
    spec:
      containers:
      - name: pg
        image: $PG_IMAGE
        env:
        - name: POSTGRES_PASSWORD
          valueFrom: {secretKeyRef: {name: pg, key: password}}
        readinessProbe:
          exec: {command: [pg_isready, -U, postgres]}
---
apiVersion: v1
kind: Service
metadata: {name: pg, namespace: sluice-e2e}
spec:
  clusterIP: $PG_IP
  selector: {app: pg}
  ports: [{port: 5432}]
EOF
# the credential's password only reaches the daemon's pods through a new pod
k -n sluice-system rollout restart ds/sluice >/dev/null
k -n sluice-system rollout status ds/sluice --timeout=300s
k -n sluice-e2e rollout status deploy/pg --timeout=300s

# --- the agent -------------------------------------------------------------------
k create namespace agents --dry-run=client -o yaml | k apply -f - >/dev/null
k -n agents create serviceaccount agent --dry-run=client -o yaml | k apply -f - >/dev/null
k -n agents create role pod-reader --verb=get,list,watch --resource=pods \
	--dry-run=client -o yaml | k apply -f - >/dev/null
k -n agents create rolebinding agent-reads-pods --role=pod-reader --serviceaccount=agents:agent \
	--dry-run=client -o yaml | k apply -f - >/dev/null
k -n agents delete pod agent --ignore-not-found --wait=true >/dev/null
k apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: agents, labels: {app: agent}}
spec:
  serviceAccountName: agent
  containers:
  - {name: kubectl, image: $KUBECTL_IMAGE, command: [sleep, infinity]}
  - {name: psql, image: $PG_IMAGE, command: [sleep, infinity]}
EOF
k -n agents wait --for=condition=Ready pod/agent --timeout=300s >/dev/null
node=$(k -n agents get pod agent -o jsonpath='{.spec.nodeName}')
sp=$(k -n sluice-system get pods -l app.kubernetes.io/name=sluice \
	--field-selector "spec.nodeName=$node" -o jsonpath='{.items[0].metadata.name}')
[[ -n $sp ]] || fail "no sluice pod on node $node"
log "agent on $node, sluice pod $sp"

# --- the agent's traffic -----------------------------------------------------------
out=$(k -n agents exec agent -c kubectl -- kubectl get pods -n agents -o name 2>&1) ||
	fail "the agent's kubectl failed: $out"
[[ $out == *pod/agent* ]] || fail "the agent's kubectl did not list itself: $out"
psql_as_agent() {
	k -n agents exec agent -c psql -- psql -X -At -v ON_ERROR_STOP=1 \
		"host=$PG_IP port=5432 user=agent dbname=postgres sslmode=prefer" -c "$1" 2>&1
}
out=$(psql_as_agent "select 40 + 2") || fail "the agent's read failed: $out"
[[ $out == 42 ]] || fail "the agent's read: got '$out', expected 42"
out=$(psql_as_agent "create table e2e_$$ (id int)") &&
	fail "a write by the agent passed: $out"
[[ $out == *"approval"* ]] || fail "the write was refused without naming an approval: $out"

# --- what sluice recorded -----------------------------------------------------------
list=$(k -n sluice-system exec "$sp" -c sluiced -- sluice -j session list) ||
	fail "sluice session list in $sp failed: $list"
python3 - "$list" <<'EOF' || exit 1
import json, sys
sessions = json.loads(sys.argv[1])
def agent(s):
    p = (s.get("kernel") or {}).get("pod") or {}
    return p.get("namespace") == "agents" and p.get("name") == "agent"
for target in ("kubernetes", "example-pg"):
    mine = [s for s in sessions if s.get("target") == target and agent(s)]
    if not mine:
        sys.exit("FAIL: no %s session with the agent pod's identity among %d sessions" % (target, len(sessions)))
    print("[e2e] %s: %d session(s) of agents/agent, e.g. %s" % (target, len(mine), mine[0]["id"]), file=sys.stderr)
EOF
if [[ ${E2E_CLEANUP:-0} == 1 ]]; then
	k delete namespace agents sluice-e2e --wait=false >/dev/null
fi
log PASS
