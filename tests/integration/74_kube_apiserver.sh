#!/usr/bin/env bash
# Issue 7's fixture (lib_k8s.sh), proved on its own: a real kube-apiserver
# v1.20.2 (built from Debian's source package by scripts/kube-apiserver.sh)
# and Debian's etcd on 127.0.10.40, nothing of sluice in between.
#   - the admin kubeconfig works: kubectl lists the namespaces, creates a
#     namespace and a ServiceAccount;
#   - a token from the TokenRequest API authenticates as that
#     ServiceAccount (RS256, iss = the configured issuer): RBAC says no,
#     then yes once a RoleBinding grants it; a forged token is refused;
#   - the audit log names the ServiceAccount and the admin for their
#     requests;
#   - kube-apiserver restarts on the same etcd with the objects intact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$LIB_DIR/lib_k8s.sh"
need_kube
need_cmd openssl curl

start_kube 127.0.10.40 6443
log "kubectl: $KUBECTL ($("$KUBECTL" version --client 2>/dev/null | head -n 1))"

# --- admin ----------------------------------------------------------------------
ns=$(kube get namespaces -o name 2>&1) || fail "kubectl get ns as admin failed: $ns"
[[ $ns == *namespace/default* && $ns == *namespace/kube-system* ]] ||
	fail "kubectl get ns lists neither default nor kube-system: $ns"
kube create namespace agents >/dev/null
kube -n agents create serviceaccount agent >/dev/null
out=$(kube -n agents get serviceaccount agent -o jsonpath='{.metadata.name}')
expect_eq "$out" agent "ServiceAccount created as admin"

# --- a service-account token ----------------------------------------------------
tok=$(kube_token agents agent 600)
claims=$("$PY" - "$tok" <<'EOF'
import base64, json, sys
h, p, _ = sys.argv[1].split(".")
dec = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
print(json.dumps({"alg": dec(h)["alg"], "iss": dec(p)["iss"], "sub": dec(p)["sub"], "aud": dec(p)["aud"]}))
EOF
)
expect_eq "$(jget "$claims" 'j["alg"]')" RS256 "token algorithm" "$claims"
expect_eq "$(jget "$claims" 'j["iss"]')" "$KUBE_SA_ISSUER" "token issuer" "$claims"
expect_eq "$(jget "$claims" 'j["sub"]')" system:serviceaccount:agents:agent "token subject" "$claims"

# authenticated, but RBAC grants nothing yet ("no" exits 1)
out=$(kube_as_token "$tok" auth can-i list pods -n agents 2>&1) || true
expect_eq "$out" no "can-i list pods before the RoleBinding"
# a token signed by nobody the server knows is not a user at all
forged=${tok%.*}.$(printf 'not-a-signature' | base64 | tr -d '=\n' | tr '/+' '_-')
out=$(kube_as_token "$forged" get pods -n agents 2>&1) && fail "a forged token was accepted: $out"
[[ $out == *Unauthorized* ]] || fail "a forged token: expected Unauthorized, got: $out"

kube -n agents create role pod-reader --verb=get,list,watch --resource=pods >/dev/null
kube -n agents create rolebinding agent-reads-pods --role=pod-reader \
	--serviceaccount=agents:agent >/dev/null
can_list() { [[ $(kube_as_token "$tok" auth can-i list pods -n agents 2>/dev/null) == yes ]]; }
wait_until 15 can_list || fail "can-i list pods still not yes 15 s after the RoleBinding"
out=$(kube_as_token "$tok" get pods -n agents -o name 2>&1) ||
	fail "the ServiceAccount cannot list pods after the RoleBinding: $out"
out=$(kube_as_token "$tok" get secrets -n agents 2>&1) && fail "listing secrets was allowed: $out"
[[ $out == *Forbidden* ]] || fail "secrets: expected Forbidden, got: $out"

# --- the audit log ---------------------------------------------------------------
sa_user=system:serviceaccount:agents:agent
audited() { (($(kube_audit_count "$@") >= 1)); }
wait_until 10 audited "$sa_user" list pods ||
	fail "no audit entry of $sa_user listing pods: $(tail -n 5 "$KUBE_AUDIT_LOG")"
audited "$sa_user" create selfsubjectaccessreviews ||
	fail "no audit entry of $sa_user asking can-i"
audited "$sa_user" list secrets || fail "the refused secrets list is not in the audit log"
audited sluice-test-admin create namespaces || fail "no audit entry of the admin creating a namespace"
audited sluice-test-admin create serviceaccounts || fail "no audit entry of the admin creating a ServiceAccount"
groups=$("$PY" - "$KUBE_AUDIT_LOG" "$sa_user" <<'EOF'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e.get("user", {}).get("username") == sys.argv[2]:
        print(" ".join(sorted(e["user"].get("groups", []))))
        break
EOF
)
expect_eq "$groups" "system:authenticated system:serviceaccounts system:serviceaccounts:agents" \
	"groups of the ServiceAccount in the audit log"
log "audit log: $(wc -l <"$KUBE_AUDIT_LOG") entries"

# --- a restart keeps what etcd holds ----------------------------------------------
stop_kube_apiserver
out=$(kube get ns --request-timeout=3s 2>&1) && fail "kubectl still answered with the API server stopped: $out"
start_kube_apiserver
out=$(kube -n agents get serviceaccount agent -o jsonpath='{.metadata.name}' 2>&1)
expect_eq "$out" agent "ServiceAccount after a restart"
out=$(kube_as_token "$tok" auth can-i list pods -n agents 2>&1) || true
expect_eq "$out" yes "the token still works after a restart"
log "PASS"
