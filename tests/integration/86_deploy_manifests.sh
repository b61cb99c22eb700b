#!/usr/bin/env bash
# Issue 8, "Tests that must pass here" item 2: the manifests of deploy/
# against a real kube-apiserver (lib_k8s.sh, v1.20.2):
#   - every object `kubectl apply -k deploy/` would send (rendered with the
#     machine's kubectl kustomize, else the plain files plus the two
#     ConfigMaps made from deploy/config.json and deploy/policies/) passes
#     `kubectl apply --dry-run=server`; a broken copy of the DaemonSet is
#     refused the same way, so the check can fail;
#   - the objects as the server returns them are what the README says: a
#     privileged DaemonSet (hostPID, hostNetwork, /sys/fs/bpf Bidirectional,
#     the cgroup2 root, /var/lib/sluice, /run/sluice, NODE_NAME from
#     spec.nodeName, /metrics probes on the config's metrics port, a
#     RollingUpdate with maxUnavailable 1) and the config and policies
#     mounted where config.json names them;
#   - the RBAC, applied for real, gives the daemon's ServiceAccount pods
#     get/list/watch and impersonation, and nothing else (can-i);
#   - the ConfigMap's config.json passes `sluiced --check-config` and its
#     policies `sluice policy check`;
#   - the image: the runtime packages the Dockerfile installs exist in
#     Debian 12 (apt-cache); `docker build` runs only where a Docker engine
#     answers, else "image build skipped: no Docker engine" and the rest
#     still asserts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$LIB_DIR/lib_k8s.sh"
need_kube
[[ -x $SLUICED && -x $SLUICE ]] || fail "build first: $SLUICED, $SLUICE missing"
DEPLOY=$REPO_ROOT/deploy
NS=sluice-system
SA_USER=system:serviceaccount:$NS:sluice

start_kube 127.0.10.86 6443
# A privileged DaemonSet is admitted only with --allow-privileged=true, as
# every real cluster's API server runs (kubeadm sets it); the fixture
# leaves it out, so restart it with the flag (etcd keeps running).
stop_kube_apiserver
KUBE_ARGS+=(--allow-privileged=true)
start_kube_apiserver

# --- render -----------------------------------------------------------------------
ALL=$T/all.yaml
if "$KUBECTL" kustomize "$DEPLOY" >"$ALL" 2>"$T/kustomize.err"; then
	log "rendered with kubectl kustomize ($(grep -c '^kind:' "$ALL") objects)"
else
	log "kubectl kustomize unavailable ($(tail -n 1 "$T/kustomize.err")): plain files"
	{
		for f in namespace rbac daemonset; do
			cat "$DEPLOY/$f.yaml"
			echo ---
		done
		kube -n "$NS" create configmap sluice-config --from-file="$DEPLOY/config.json" \
			--dry-run=client -o yaml
		echo ---
		kube -n "$NS" create configmap sluice-policies --from-file="$DEPLOY/policies" \
			--dry-run=client -o yaml
	} >"$ALL"
fi

# --- server-side dry run -------------------------------------------------------------
# Namespaced objects are admitted only into a namespace that exists.
kube apply -f "$DEPLOY/namespace.yaml" >/dev/null
out=$(kube apply --dry-run=server -f "$ALL" -o json 2>"$T/dry.err") ||
	fail "kubectl apply --dry-run=server refused deploy/: $(cat "$T/dry.err")"
printf '%s\n' "$out" >"$T/dry.json"
n=$(kube get daemonsets,configmaps,serviceaccounts -n "$NS" -o name 2>&1 | grep -c . || true)
expect_eq "$n" 0 "objects left behind by the dry run in $NS" "$(kube get all,cm,sa -n "$NS" 2>&1)"

# A DaemonSet the server must refuse proves the dry run validates.
sed 's/mountPropagation: Bidirectional/mountPropagation: Sideways/' "$DEPLOY/daemonset.yaml" \
	>"$T/bad-ds.yaml"
out=$(kube apply --dry-run=server -f "$T/bad-ds.yaml" 2>&1) &&
	fail "a DaemonSet with mountPropagation Sideways passed the dry run: $out"
[[ $out == *mountPropagation* ]] || fail "the bad DaemonSet was refused for another reason: $out"

# --- what the server returned ------------------------------------------------------------
mkdir -p "$T/etc/policies"
checks=$("$PY" - "$T/dry.json" "$T/etc" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
etc = sys.argv[2]
items = doc["items"] if doc.get("kind") == "List" else [doc]
by = {}
for o in items:
    by.setdefault(o["kind"], []).append(o)
errs = []
def need(cond, what):
    if not cond:
        errs.append(what)
for k in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet", "ConfigMap"):
    need(k in by, "no " + k)
cms = {o["metadata"]["name"]: o for o in by.get("ConfigMap", [])}
cfg_cm = [n for n in cms if n.startswith("sluice-config")]
pol_cm = [n for n in cms if n.startswith("sluice-policies")]
need(len(cfg_cm) == 1 and "config.json" in cms[cfg_cm[0]]["data"], "ConfigMap sluice-config with config.json")
need(len(pol_cm) == 1 and cms[pol_cm[0]]["data"], "ConfigMap sluice-policies with files")
if errs:
    print("; ".join(errs)); sys.exit(0)
cfg_text = cms[cfg_cm[0]]["data"]["config.json"]
open(etc + "/config.json", "w").write(cfg_text)
for name, text in cms[pol_cm[0]]["data"].items():
    open(etc + "/policies/" + name, "w").write(text)
cfg = json.loads(cfg_text)

ds = by["DaemonSet"][0]
spec = ds["spec"]
pod = spec["template"]["spec"]
c = pod["containers"][0]
need(ds["metadata"]["namespace"] == "sluice-system", "DaemonSet namespace")
need(pod.get("hostPID") is True, "hostPID")
need(pod.get("hostNetwork") is True, "hostNetwork")
need(c.get("securityContext", {}).get("privileged") is True, "privileged")
need(pod.get("serviceAccountName") == "sluice", "serviceAccountName")
sas = [o["metadata"]["name"] for o in by["ServiceAccount"]]
need("sluice" in sas, "ServiceAccount sluice")
us = spec.get("updateStrategy", {})
need(us.get("type") == "RollingUpdate" and us.get("rollingUpdate", {}).get("maxUnavailable") == 1,
     "RollingUpdate maxUnavailable 1: %r" % us)
env = {e["name"]: e for e in c.get("env", [])}
need(env.get("NODE_NAME", {}).get("valueFrom", {}).get("fieldRef", {}).get("fieldPath") == "spec.nodeName",
     "NODE_NAME from spec.nodeName")
mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
vols = {v["name"]: v for v in pod["volumes"]}
def host_path(mp):
    m = mounts.get(mp)
    return m and vols[m["name"]].get("hostPath", {}).get("path")
need(host_path("/sys/fs/bpf") == "/sys/fs/bpf", "/sys/fs/bpf from the host")
need(mounts.get("/sys/fs/bpf", {}).get("mountPropagation") == "Bidirectional", "/sys/fs/bpf Bidirectional")
need(host_path(cfg.get("cgroup", "/sys/fs/cgroup")) == "/sys/fs/cgroup", "the cgroup2 root from the host")
need(host_path(cfg["store"]["path"]) == "/var/lib/sluice", "store.path on the host")
need(host_path("/run/sluice") == "/run/sluice", "/run/sluice on the host")
need(cfg["control"].startswith("/run/sluice/"), "control socket under /run/sluice")
# config.json where the command reads it, the policies at policy_dir
argv = c.get("command", []) + c.get("args", [])
need("/etc/sluice/config.json" in argv, "sluiced --config /etc/sluice/config.json: %r" % argv)
cfgvol = vols[mounts["/etc/sluice"]["name"]]
srcs = cfgvol.get("projected", {}).get("sources", []) or [cfgvol]
need(any(s.get("configMap", {}).get("name") == cfg_cm[0] for s in srcs), "/etc/sluice from " + cfg_cm[0])
need(any("secret" in s for s in srcs), "held credentials from a Secret in /etc/sluice")
polvol = vols[mounts[cfg["policy_dir"]]["name"]]
need(polvol.get("configMap", {}).get("name") == pol_cm[0], "policy_dir from " + pol_cm[0])
# probes on the metrics port the config opens, on the address it binds
host, port = cfg["metrics"].rsplit(":", 1)
for p in ("livenessProbe", "readinessProbe"):
    g = c.get(p, {}).get("httpGet", {})
    need(g.get("path") == "/metrics" and str(g.get("port")) == port and g.get("host", host) == host,
         "%s httpGet %s /metrics: %r" % (p, cfg["metrics"], g))
print("; ".join(errs) if errs else "ok")
EOF
) || fail "reading the dry-run answer failed"
expect_eq "$checks" ok "the DaemonSet and ConfigMaps as the server returned them"

# --- the embedded config and policies ------------------------------------------------------
out=$("$SLUICED" --check-config "$T/etc/config.json" 2>&1) ||
	fail "the ConfigMap's config.json does not pass sluiced --check-config: $out"
log "$out"
for f in "$T"/etc/policies/*.json; do
	out=$("$SLUICE" policy check "$f" 2>&1) || fail "policy $(basename "$f") refused: $out"
	log "$out"
done
# the check refuses what this version cannot enforce (so "ok" above means something)
sed 's/"kind": "tcp"/"kind": "mysql"/' "$T/etc/config.json" >"$T/etc/later.json"
out=$("$SLUICED" --check-config "$T/etc/later.json" 2>&1) &&
	fail "a kind mysql target passed --check-config: $out"
[[ $out == *"not supported by this version yet"* ]] || fail "kind mysql: unexpected answer: $out"

# --- RBAC, applied for real -----------------------------------------------------------------
kube apply -f "$DEPLOY/rbac.yaml" >/dev/null
can() { kube auth can-i --as="$SA_USER" "$@" 2>/dev/null || true; }
can_list_pods() { [[ $(can list pods -A) == yes ]]; }
wait_until 15 can_list_pods || fail "$SA_USER cannot list pods 15 s after the ClusterRoleBinding"
for want in "yes watch pods -A" "yes get pods -n agents" \
	"yes impersonate users" "yes impersonate groups" "yes impersonate serviceaccounts -n agents" \
	"no get secrets -n $NS" "no create pods -n agents" "no list nodes"; do
	read -r exp verb res rest <<<"$want"
	# shellcheck disable=SC2086 # rest: "-n NS", "-A", "--subresource=X" or empty
	got=$(can "$verb" "$res" $rest)
	expect_eq "$got" "$exp" "can-i $verb $res $rest as $SA_USER"
done
# Impersonating an extra is authorized as verb impersonate on
# authentication.k8s.io userextras/<key>, which kubectl can-i cannot
# spell: ask the server with a SubjectAccessReview.
sar_extra() {
	local ans
	ans=$(kube_api POST /apis/authorization.k8s.io/v1/subjectaccessreviews \
		"{\"apiVersion\": \"authorization.k8s.io/v1\", \"kind\": \"SubjectAccessReview\", \"spec\": {\"user\": \"$SA_USER\", \"groups\": [\"system:serviceaccounts\"], \"resourceAttributes\": {\"verb\": \"impersonate\", \"group\": \"authentication.k8s.io\", \"resource\": \"userextras\", \"subresource\": \"$1\"}}}") ||
		fail "SubjectAccessReview failed: $ans"
	jget "$ans" 'j["status"].get("allowed", False)'
}
expect_eq "$(sar_extra sluice-session)" true "impersonate userextras/sluice-session as $SA_USER"
expect_eq "$(sar_extra scopes)" false "impersonate userextras/scopes as $SA_USER"

# --- the image ----------------------------------------------------------------------------------
# Runtime packages of the last stage: every one is a Debian 12 package.
pkgs=$(awk '/^FROM/ {stage++} stage == 2 && !/^#/' "$DEPLOY/Dockerfile" | tr -d '\\\n' |
	sed -n 's/.*apt-get install \([^;]*\);.*/\1/p' | tr -s ' \t' '\n' | grep -v '^-' | sort -u | tr '\n' ' ')
for p in libbpf1 libelf1 liburing2 libjansson4 librocksdb7.8 libssl3 libcurl4 zlib1g; do
	[[ " $pkgs " == *" $p "* ]] || fail "the runtime stage does not install $p (found: $pkgs)"
done
if command -v apt-cache >/dev/null 2>&1 && grep -qs '^12\.' /etc/debian_version; then
	for p in $pkgs; do
		apt-cache show --no-all-versions "$p" >/dev/null 2>&1 ||
			fail "runtime package $p is not a Debian 12 package (apt-cache show)"
	done
	log "runtime packages known to apt: $pkgs"
fi
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	docker build -f "$DEPLOY/Dockerfile" -t sluice:test "$REPO_ROOT" >"$T/docker.log" 2>&1 ||
		fail "docker build failed: $(tail -n 30 "$T/docker.log")"
	out=$(docker run --rm --entrypoint /usr/sbin/sluiced sluice:test --version 2>&1) ||
		fail "the image's sluiced does not run: $out"
	log "image built: $out"
else
	log "image build skipped: no Docker engine"
fi
log "PASS"
