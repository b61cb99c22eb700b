#!/usr/bin/env bash
# Issue 7: `kind: kubernetes` targets. A real kube-apiserver v1.20.2 and etcd
# on 127.0.10.84 (lib_k8s.sh); sluice's target matches the API server's own
# address and goes upstream to it with its own client certificate
# (CN=sluice-proxy, allowed to impersonate). Unmodified kubectl runs in the
# test cgroup with an unchanged kubeconfig (server = the API server's real
# address, its cluster CA, the admin's client certificate) or with a
# service-account token:
#  1. get ns, create, apply -f, get -o json, patch, delete, a bounded
#     get -w and auth can-i all work; each request is a "request" event
#     with the right verb, resource, namespace, name and status.
#  2. The service-account identity is refused `delete namespaces` by sluice
#     policy (kubectl prints "Error from server (Forbidden)" naming the rule,
#     the namespace survives, the refusal is an event) while the admin
#     deletes one.
#  3. The API server's audit log names the agents (the admin, the service
#     account) as the users, impersonated by sluice-proxy, with the session
#     id as an extra; nothing as sluice-proxy itself.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$LIB_DIR/lib_k8s.sh"
need_root
need_bpf
need_kube
make_cgroup
ADDR=127.0.10.84
PORT=6443
KUBE_ETCD_PORT=2384
start_kube "$ADDR" "$PORT"
kube_user sluice-proxy sluice-proxy system:masters

# the agent: a namespace, a service account with rights in it, and its token
kube create namespace agents >/dev/null
kube create namespace keepme >/dev/null
kube -n agents create serviceaccount agent >/dev/null
kube create clusterrolebinding agent-admin --clusterrole=cluster-admin \
	--serviceaccount=agents:agent >/dev/null
TOKEN=$(kube_token agents agent 600)

mkdir -p "$T/policies" "$T/home"
cat >"$T/policies/10-k8s.json" <<'JSON'
{
  "version": 1,
  "default": "deny",
  "rules": [
    {"name": "agents-never-delete-namespaces",
     "match": {"identity": {"groups": ["system:serviceaccounts"]},
               "k8s": {"verbs": ["delete", "deletecollection"], "resources": ["namespaces"]}},
     "action": "deny"},
    {"name": "all-else", "match": {"target": "k8s"}, "action": "allow"}
  ]
}
JSON
cat >"$T/config.json" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100, "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "policy_dir": "$T/policies",
  "identity": {"issuers": [{"issuer": "$KUBE_SA_ISSUER", "audiences": ["$KUBE_SA_ISSUER"],
                            "keys": "$KUBE_SA_PUB"}],
               "client_ca": "$KUBE_CA"},
  "targets": [
    {"name": "k8s", "kind": "kubernetes", "match": ["$ADDR:$PORT"], "upstream": "$ADDR:$PORT",
     "fail_mode": "closed",
     "tls": {"cert": "$KUBE_SERVING_CERT", "key": "$KUBE_SERVING_KEY", "upstream_ca": "$KUBE_CA"},
     "credential": {"client_cert": "$PKI/sluice-proxy.crt", "client_key": "$PKI/sluice-proxy.key"}}
  ]
}
EOF
start_sluiced "$T/config.json"

# k ARGS...: kubectl as the admin (its kubeconfig untouched) in the cgroup;
# kt ARGS...: with the service account's token. Output in $OUT, exit in $RC.
k() {
	RC=0
	OUT=$(in_cgroup env HOME="$T/home" "$KUBECTL" --kubeconfig "$KUBECONFIG" \
		--request-timeout=20s "$@" 2>&1) || RC=$?
}
kt() {
	RC=0
	OUT=$(in_cgroup env HOME="$T/home" "$KUBECTL" --kubeconfig /dev/null \
		--server "$KUBE_SERVER" --certificate-authority "$KUBE_CA" --token "$TOKEN" \
		--request-timeout=20s "$@" 2>&1) || RC=$?
}
# requests: every request event of every session of the target, one
# "verb|resource|namespace|name|status|decision|rule|impersonated" a line
requests() {
	local sid
	for sid in $(conn_list | "$PY" -c 'import json,sys; print(" ".join(x["session"] for x in json.load(sys.stdin)["connections"] if x["target"] == "k8s"))'); do
		store_cli -j session show "$sid" | "$PY" -c '
import json, sys
for e in json.load(sys.stdin)["events"]:
    if e.get("type") == "request":
        print("|".join(str(e.get(k, "")) for k in ("verb", "resource", "namespace", "name", "status", "decision", "rule", "impersonated")))'
	done
}
has_request() {	# has_request REGEX WHAT
	local r
	r=$(requests)
	grep -Eq -- "$1" <<<"$r" || fail "$2: no request event matching /$1/ in:
$r"
}

# --- 1. kubectl through sluice, each request an event ---------------------------
k get ns
expect_eq "$RC" 0 "kubectl get ns" "$OUT"
grep -q '^agents ' <<<"$OUT" || fail "get ns does not list agents: $OUT"
wait_conn 10 || true
log "connections: $(conn_list | head -c 600)"
k -n agents create configmap cm1 --from-literal=a=1
expect_eq "$RC" 0 "kubectl create configmap" "$OUT"
cat >"$T/cm2.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: cm2
  namespace: agents
data:
  big: "x"
YAML
k apply -f "$T/cm2.yaml"
expect_eq "$RC" 0 "kubectl apply -f" "$OUT"
k -n agents get configmap cm2 -o json
expect_eq "$RC" 0 "kubectl get -o json" "$OUT"
expect_eq "$(jget "$OUT" 'j["data"]["big"]')" x "the applied ConfigMap read back"
k -n agents patch configmap cm2 --type merge -p '{"data":{"big":"y"}}'
expect_eq "$RC" 0 "kubectl patch" "$OUT"
# a large object (about 1 MiB) both ways
"$PY" - "$T/big.json" <<'EOF'
import json, sys
json.dump({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "big", "namespace": "agents"},
           "data": {"blob": "z" * (1000 * 1024)}}, open(sys.argv[1], "w"))
EOF
k create -f "$T/big.json"
expect_eq "$RC" 0 "kubectl create a 1 MB ConfigMap" "$OUT"
k -n agents get configmap big -o jsonpath='{.data.blob}'
expect_eq "${#OUT}" $((1000 * 1024)) "the 1 MB ConfigMap read back whole"
k -n agents delete configmap cm1
expect_eq "$RC" 0 "kubectl delete" "$OUT"
k -n agents get configmaps -w --request-timeout=3s
log "get -w ended with $RC: $(head -c 300 <<<"$OUT")"
grep -q cm2 <<<"$OUT" || fail "get -w did not stream the list: $OUT"
k auth can-i delete namespaces
# (kubectl warns on stderr that namespaces are not namespaced)
expect_eq "$(tail -n 1 <<<"$OUT")" yes "auth can-i as the admin"

has_request '^list\|namespaces\|\|\|200\|allow\|all-else\|sluice-test-admin$' "get ns"
has_request '^create\|configmaps\|agents\|\|201\|allow\|' "create configmap"
has_request '^get\|configmaps\|agents\|cm2\|200\|allow\|' "get cm2"
has_request '^patch\|configmaps\|agents\|cm2\|200\|allow\|' "patch / apply"
has_request '^delete\|configmaps\|agents\|cm1\|200\|allow\|' "delete cm1"
has_request '^watch\|configmaps\|agents\|\|200\|allow\|' "get -w"
has_request '^create\|selfsubjectaccessreviews\|\|\|201\|allow\|' "auth can-i"

# --- 2. a service account refused delete namespaces; the admin allowed ----------
kt get ns keepme
expect_eq "$RC" 0 "the service account reads a namespace" "$OUT"
kt delete namespace keepme
[[ $RC -ne 0 && $OUT == *"Error from server (Forbidden)"* && $OUT == *agents-never-delete-namespaces* ]] ||
	fail "the service account's delete namespaces: expected Forbidden naming the rule, got ($RC): $OUT"
k get ns keepme
expect_eq "$RC" 0 "keepme survives the refused delete" "$OUT"
has_request '^delete\|namespaces\|keepme\|keepme\|403\|deny\|agents-never-delete-namespaces\|' \
	"the refused delete"
k delete namespace keepme --wait=false
expect_eq "$RC" 0 "the admin deletes a namespace" "$OUT"
has_request '^delete\|namespaces\|keepme\|keepme\|200\|allow\|all-else\|sluice-test-admin$' \
	"the admin's delete"

# --- 3. the API server's audit log: the agents, impersonated by sluice ----------
audit=$("$PY" - "$KUBE_AUDIT_LOG" <<'EOF'
import json, sys
seen = set()
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("stage") != "ResponseComplete":
        continue
    u = e.get("user", {}).get("username", "")
    i = e.get("impersonatedUser", {}) or {}
    if u == "sluice-proxy":
        extra = ",".join(i.get("extra", {}).get("sluice-session", []))
        seen.add("%s|%s|%s|%s" % (i.get("username", "-"), e["verb"],
                                  e.get("objectRef", {}).get("resource", ""), "sid" if extra else "nosid"))
for s in sorted(seen):
    print(s)
EOF
)
log "audit (impersonated user|verb|resource|session extra):
$audit"
grep -qx 'sluice-test-admin|create|configmaps|sid' <<<"$audit" ||
	fail "audit log: no create configmaps by the admin impersonated by sluice-proxy"
grep -qx 'sluice-test-admin|delete|namespaces|sid' <<<"$audit" ||
	fail "audit log: no delete namespaces by the admin impersonated by sluice-proxy"
grep -qx 'system:serviceaccount:agents:agent|get|namespaces|sid' <<<"$audit" ||
	fail "audit log: no get namespaces by the service account impersonated by sluice-proxy"
grep -q '^system:serviceaccount:agents:agent|delete|namespaces' <<<"$audit" &&
	fail "audit log: the refused delete reached the API server"
grep -q '^-|' <<<"$audit" && fail "audit log: sluice-proxy acted as itself: $audit"
log "ok"
