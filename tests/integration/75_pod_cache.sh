#!/usr/bin/env bash
# Issue 8, the pod cache (userspace/k8s/podcache.c) against a real
# kube-apiserver (lib_k8s.sh) on 127.0.10.41. No kubelet runs: the Pods
# are API objects bound to node names (spec.nodeName), which is all the
# cache reads. sluiced authenticates as its own ServiceAccount
# (sluice/sluice-node, RBAC pods get/list/watch) with a token file, as in
# the DaemonSet.
#   - list: the node's pods are in the daemon's table (`sluice pod list`,
#     source "api") with namespace, name, service account and labels; a pod
#     of another node is not;
#   - watch: a new pod appears, a label change shows, a deleted pod goes;
#   - restart: kube-apiserver stops; meanwhile a pod is removed straight
#     from etcd (no watch event can ever tell) and the daemon's token is
#     rotated (the old one revoked); after the restart the cache lists
#     again with the new token, the removed pod is gone and new pods show;
#   - a client certificate (the test's admin one) instead of the token.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$LIB_DIR/lib_k8s.sh"
need_root
need_bpf
need_kube
make_cgroup

ADDR=127.0.10.41
NODE=node-a
start_kube "$ADDR" 6443

# --- the daemon's own identity, and the pods ------------------------------------------
kube create namespace sluice >/dev/null
kube create namespace agents >/dev/null
kube -n sluice create serviceaccount sluice-node >/dev/null
kube -n agents create serviceaccount agent >/dev/null
kube create clusterrole sluice-pods --verb=get,list,watch --resource=pods >/dev/null
kube create clusterrolebinding sluice-pods --clusterrole=sluice-pods \
	--serviceaccount=sluice:sluice-node >/dev/null
kube_token sluice sluice-node 3600 >"$T/token"

# make_pod NAME NODE [LABELS_JSON]: a Pod bound to NODE (never scheduled)
make_pod() {
	local labels=${3:-'{}'}
	kube -n agents create -f - >/dev/null <<EOF
{"apiVersion": "v1", "kind": "Pod",
 "metadata": {"name": "$1", "labels": $labels},
 "spec": {"nodeName": "$2", "serviceAccountName": "agent",
          "containers": [{"name": "c", "image": "registry.invalid/agent:1"}]}}
EOF
}
uid_of() { kube -n agents get pod "$1" -o jsonpath='{.metadata.uid}'; }

make_pod agent-0 "$NODE" '{"app": "agent"}'
make_pod other-0 node-b '{"app": "other"}'
UID0=$(uid_of agent-0)
UID_OTHER=$(uid_of other-0)
log "pods: agent-0 $UID0 on $NODE, other-0 $UID_OTHER on node-b"

write_config "$T/config.json"
"$PY" - "$T/config.json" "$KUBE_SERVER" "$KUBE_CA" "$T/token" "$NODE" <<'EOF'
import json, sys
path, server, ca, token, node = sys.argv[1:]
cfg = json.load(open(path))
cfg["pod_cache"] = {"server": server, "ca": ca, "token_file": token, "node": node}
json.dump(cfg, open(path, "w"), indent=1)
EOF
start_sluiced "$T/config.json"

# pod_field UID EXPR: EXPR (Python, p = the pod) on the daemon's entry for
# UID, or "absent"
pod_field() {
	local out
	out=$(sluice_cli -j pod list 2>/dev/null) || return 1
	jget "$out" "next((($2) for p in j['pods'] if p['uid'] == '$1'), 'absent')"
}
field_is() { [[ $(pod_field "$1" "$2") == "$3" ]]; }
# expect_pod SECONDS UID EXPR VALUE WHAT
expect_pod() {
	wait_until "$1" field_is "$2" "$3" "$4" ||
		fail "$5: $3 is '$(pod_field "$2" "$3")', expected '$4'
pods: $(sluice_cli -j pod list 2>&1)
daemon log: $(grep -a 'pod cache' "$SLUICED_LOG" | tail -n 15)"
}

# --- list -------------------------------------------------------------------------
expect_pod 20 "$UID0" 'p["name"]' agent-0 "agent-0 after the first list"
expect_pod 1 "$UID0" 'p["namespace"]' agents "agent-0's namespace"
expect_pod 1 "$UID0" 'p["service_account"]' agent "agent-0's service account"
expect_pod 1 "$UID0" 'p["labels"]' '{"app": "agent"}' "agent-0's labels"
expect_pod 1 "$UID0" 'p["source"]' api "agent-0's source"
expect_pod 1 "$UID_OTHER" 'p' absent "a pod of node-b"
grep -aqE '"msg":"pod cache: listed".*"pods":1[,}]' "$SLUICED_LOG" ||
	fail "no 'pod cache: listed' line with 1 pod: $(grep -a 'pod cache' "$SLUICED_LOG")"
log "list: agent-0 in the table, other-0 not"

# --- watch ------------------------------------------------------------------------
make_pod agent-1 "$NODE" '{"app": "agent", "n": "1"}'
UID1=$(uid_of agent-1)
expect_pod 10 "$UID1" 'p["name"]' agent-1 "agent-1 (ADDED)"
kube -n agents label pod agent-0 tier=x >/dev/null
expect_pod 10 "$UID0" 'p["labels"].get("tier")' x "agent-0's new label (MODIFIED)"
kube -n agents delete pod agent-0 --grace-period=0 --force >/dev/null 2>&1
expect_pod 10 "$UID0" 'p' absent "agent-0 after its deletion (DELETED)"
expect_pod 1 "$UID1" 'p["name"]' agent-1 "agent-1 after agent-0's deletion"
log "watch: added, modified, deleted"

# --- restart ----------------------------------------------------------------------
# Rotate the daemon's token first: a new ServiceAccount object (new UID)
# revokes every token of the old one. The open watch stays (it was
# authenticated when it began); every later request needs the new token,
# which only a daemon that reads the file again has.
old_token=$(cat "$T/token")
kube -n sluice delete serviceaccount sluice-node >/dev/null
kube -n sluice create serviceaccount sluice-node >/dev/null
kube_token sluice sluice-node 3600 >"$T/token.new"
mv "$T/token.new" "$T/token"
revoked() { ! kube_as_token "$old_token" -n agents get pods >/dev/null 2>&1; }
wait_until 20 revoked || fail "the old token still works after its ServiceAccount was replaced"

stop_kube_apiserver
# A deletion no watch can report: the object removed from etcd itself.
key=$(printf '/registry/pods/agents/agent-1' | base64 -w0)
out=$(curl -sS --max-time 5 -X POST "http://$ADDR:$KUBE_ETCD_PORT/v3/kv/deleterange" \
	-d "{\"key\": \"$key\"}")
[[ $(jget "$out" 'j.get("deleted")') == 1 ]] || fail "etcd did not delete agent-1: $out"
# The daemon notices the API server is gone (and keeps its table).
wait_until 20 grep -aq 'pod cache: cannot reach the API server' "$SLUICED_LOG" ||
	fail "the daemon did not notice the API server going away"
expect_pod 1 "$UID1" 'p["name"]' agent-1 "agent-1 while the API server is down"
lists_before=$(grep -ac '"msg":"pod cache: listed"' "$SLUICED_LOG")
refusals_before=$(grep -ac '"msg":"pod cache: API server refused","server":"[^"]*","status":401' "$SLUICED_LOG" || true)
start_kube_apiserver

expect_pod 40 "$UID1" 'p' absent "agent-1 (removed in etcd) after the restart"
lists_after=$(grep -ac '"msg":"pod cache: listed"' "$SLUICED_LOG")
((lists_after > lists_before)) || fail "no new list after the restart: $(grep -a 'pod cache' "$SLUICED_LOG" | tail -n 10)"
# (a 403 may come while the new API server's RBAC caches fill; a token it
# does not take is a 401)
refusals=$(grep -ac '"msg":"pod cache: API server refused","server":"[^"]*","status":401' "$SLUICED_LOG" || true)
expect_eq "$refusals" "$refusals_before" "401 refusals after the restart (a stale token would get them)" \
	"$(grep -a 'pod cache' "$SLUICED_LOG" | tail -n 10)"
make_pod agent-2 "$NODE" '{"app": "agent"}'
UID2=$(uid_of agent-2)
expect_pod 20 "$UID2" 'p["name"]' agent-2 "agent-2, created after the restart"
n=$(sluice_cli -j pod list | "$PY" "$HELPER" get 'len([p for p in j["pods"] if p["source"] == "api"])')
expect_eq "$n" 1 "pods from the API server in the table" "$(sluice_cli -j pod list)"
# the daemon's requests, as the API server saw them
sa_lists() { (($(kube_audit_count system:serviceaccount:sluice:sluice-node list pods) >= 2)); }
wait_until 5 sa_lists || fail "the audit log has fewer than 2 lists of pods by sluice-node"
sluice_cli pod list
log "daemon log (pod cache):"
grep -a 'pod cache' "$SLUICED_LOG" | sed 's/^/    /' >&2

stop_sluiced
expect_eq "$SLUICED_RC" 0 "sluiced exit status"

# --- a client certificate instead of a token -----------------------------------------
# (the test's admin certificate: any identity allowed to list pods would do)
"$PY" - "$T/config.json" "$KUBE_ADMIN_CERT" "$KUBE_ADMIN_KEY" <<'EOF'
import json, sys
path, cert, key = sys.argv[1:]
cfg = json.load(open(path))
del cfg["pod_cache"]["token_file"]
cfg["pod_cache"].update(client_cert=cert, client_key=key)
json.dump(cfg, open(path, "w"), indent=1)
EOF
start_sluiced "$T/config.json"
expect_pod 20 "$UID2" 'p["name"]' agent-2 "agent-2, listed with a client certificate"
grep -aq '"auth":"client certificate"' "$SLUICED_LOG" || fail "the daemon did not say it used the certificate"
stop_sluiced
expect_eq "$SLUICED_RC" 0 "sluiced exit status (client certificate)"
log "PASS"
