# shellcheck shell=bash
# Sourced after lib.sh by tests that need a real Kubernetes API server
# (issue 7). kube-apiserver v1.20.2 is built from Debian's source package by
# scripts/kube-apiserver.sh (once per machine, cached); etcd is Debian's
# etcd-server. Gives a test:
#   need_kube              the binaries, or skip (77) with the reason
#   start_kube ADDR PORT   etcd on ADDR:$KUBE_ETCD_PORT (default 2379, peer
#                          +1) and kube-apiserver on https://ADDR:PORT, with
#                          RBAC (Node,RBAC), an audit log (level Request),
#                          service-account tokens, no controller manager.
#                          Waits for /readyz. Sets:
#     KUBE_SERVER          https://ADDR:PORT
#     KUBE_DIR             the fixture's files ($T/kube)
#     KUBE_CA, KUBE_CA_KEY the cluster CA (it signs the serving and client
#                          certificates): $PKI/kubeca.crt/.key
#     KUBE_SERVING_CERT/KEY  the API server's certificate (SAN: ADDR,
#                          kubernetes, kubernetes.default(.svc), the
#                          service IP)
#     KUBE_SA_KEY, KUBE_SA_PUB  the service-account RSA key pair (PEM)
#     KUBE_SA_ISSUER       https://kubernetes.default.svc (also the audience)
#     KUBE_ADMIN_CERT/KEY  a client certificate CN=sluice-test-admin,
#                          O=system:masters
#     KUBE_AUDIT_LOG       the API server's audit log (JSON lines)
#     KUBE_LOG, KUBE_ETCD_LOG  the servers' own logs
#     KUBECONFIG           $T/kubeconfig (admin), exported
#     KUBECTL              the kubectl used (the machine's, or Debian's)
#   kube ARGS...           kubectl with the admin kubeconfig
#   kube_as_token TOKEN ARGS...  kubectl presenting only TOKEN (no cert)
#   kube_token NS SA [SECONDS]   a service-account token (TokenRequest API)
#   kube_user NAME CN [GROUP...] a client certificate of the cluster CA:
#                          $PKI/NAME.crt, $PKI/NAME.key
#   kube_api METHOD PATH [BODY]  curl as admin; prints the answer
#   kube_audit_count USER [VERB [RESOURCE]]  entries of the audit log
#   stop_kube_apiserver / start_kube_apiserver  (etcd keeps running)
# The EXIT trap (lib.sh's _CLEANUP_HOOKS) stops both servers.

KUBE_ETCD_PORT=${KUBE_ETCD_PORT:-2379}
KUBE_SA_ISSUER=https://kubernetes.default.svc
# Service IPs from a documentation/benchmark range, never 10.x: nothing
# routes them, the API server only allocates them.
KUBE_SERVICE_RANGE=198.19.255.0/24
KUBE_SERVICE_IP=198.19.255.1
KUBE_APISERVER=
KUBE_PID=
KUBE_ETCD_PID=
KUBE_ARGS=()

need_kube() {
	local out
	need_cmd openssl curl
	out=$("$REPO_ROOT/scripts/kube-apiserver.sh" 2>"$T/kube-apiserver.sh.err") ||
		skip "no kube-apiserver here: $(tail -n 1 "$T/kube-apiserver.sh.err")"
	KUBE_APISERVER=$out
	command -v etcd >/dev/null 2>&1 ||
		skip "etcd not installed (scripts/kube-apiserver.sh installs etcd-server)"
	KUBECTL=$(command -v kubectl) ||
		skip "kubectl not installed (scripts/kube-apiserver.sh installs kubernetes-client)"
}

kube_user() {
	local name=$1 cn=$2 subj g
	shift 2
	subj="/CN=$cn"
	for g in "$@"; do subj+="/O=$g"; done
	mkdir -p "$PKI"
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' \
		>"$PKI/$name.ext"
	{
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$PKI/$name.key" -out "$PKI/$name.csr" -subj "$subj" &&
			openssl x509 -req -in "$PKI/$name.csr" -CA "$KUBE_CA" -CAkey "$KUBE_CA_KEY" \
				-CAcreateserial -days 2 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt"
	} >"$PKI/$name.log" 2>&1 || fail "openssl: cannot make client cert $name: $(cat "$PKI/$name.log")"
}

_kube_pki() {
	local addr=$1
	make_ca kubeca
	KUBE_CA=$PKI/kubeca.crt
	KUBE_CA_KEY=$PKI/kubeca.key
	make_cert kubeca kube-apiserver \
		"IP:$addr,IP:$KUBE_SERVICE_IP,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	KUBE_SERVING_CERT=$PKI/kube-apiserver.crt
	KUBE_SERVING_KEY=$PKI/kube-apiserver.key
	if ! openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/sa.key" \
		>"$PKI/sa.log" 2>&1 ||
		! openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" >>"$PKI/sa.log" 2>&1; then
		fail "openssl: cannot make the service-account key pair: $(cat "$PKI/sa.log")"
	fi
	KUBE_SA_KEY=$PKI/sa.key
	KUBE_SA_PUB=$PKI/sa.pub
	kube_user kube-admin sluice-test-admin system:masters
	KUBE_ADMIN_CERT=$PKI/kube-admin.crt
	KUBE_ADMIN_KEY=$PKI/kube-admin.key
}

# _kube_stop_pid PID: TERM, up to 10 s, then KILL (the servers are not
# jobs of the test shell: they are disowned so lib.sh's job sweep leaves
# them to this clean stop)
_kube_stop_pid() {
	local pid=$1 i
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

_kube_cleanup() {
	# rc: lib.sh's _cleanup's exit status (bash scoping): on a failure,
	# what the API server said about it
	if [[ ${rc:-0} != 0 && ${rc:-0} != 77 && -s ${KUBE_LOG:-} ]]; then
		printf -- '--- %s (errors, last 30)\n' "$KUBE_LOG" >&2
		grep -aE '^[EF][0-9]{4}|panic' "$KUBE_LOG" | tail -n 30 >&2
	fi
	_kube_stop_pid "$KUBE_PID"
	_kube_stop_pid "$KUBE_ETCD_PID"
	KUBE_PID='' KUBE_ETCD_PID=''
}

_kube_readyz() {
	[[ $(curl -sS --max-time 2 --cacert "$KUBE_CA" --cert "$KUBE_ADMIN_CERT" \
		--key "$KUBE_ADMIN_KEY" "$KUBE_SERVER/readyz" 2>/dev/null) == ok ]]
}

start_kube_apiserver() {
	[[ -z $KUBE_PID ]] || fail "start_kube_apiserver: already running (pid $KUBE_PID)"
	log "starting kube-apiserver on $KUBE_SERVER (log $KUBE_LOG)"
	echo "--- start $(date +%T.%3N)" >>"$KUBE_LOG"
	"$KUBE_APISERVER" "${KUBE_ARGS[@]}" >>"$KUBE_LOG" 2>&1 &
	KUBE_PID=$!
	disown "$KUBE_PID"
	local deadline=$((SECONDS + 90))
	until _kube_readyz; do
		alive "$KUBE_PID" ||
			fail "kube-apiserver exited before it was ready: $(tail -n 30 "$KUBE_LOG")"
		((SECONDS < deadline)) ||
			fail "kube-apiserver not ready after 90 s: $(tail -n 30 "$KUBE_LOG")"
		sleep 0.2
	done
	log "kube-apiserver ready (pid $KUBE_PID)"
}

stop_kube_apiserver() {
	log "stopping kube-apiserver (pid $KUBE_PID)"
	_kube_stop_pid "$KUBE_PID"
	KUBE_PID=
}

start_kube() {
	local addr=$1 port=$2 peer i
	[[ -n $KUBE_APISERVER ]] || need_kube
	peer=$((KUBE_ETCD_PORT + 1))
	for i in "$port" "$KUBE_ETCD_PORT" "$peer"; do
		"$PY" "$HELPER" port-free "$addr" "$i" >/dev/null ||
			fail "$addr:$i is already in use: $(who_listens "$i")"
	done
	KUBE_DIR=$T/kube
	mkdir -p "$KUBE_DIR"
	KUBE_SERVER=https://$addr:$port
	KUBE_LOG=$KUBE_DIR/kube-apiserver.log
	KUBE_ETCD_LOG=$KUBE_DIR/etcd.log
	KUBE_AUDIT_LOG=$KUBE_DIR/audit.log
	_kube_pki "$addr"
	_CLEANUP_HOOKS+=(_kube_cleanup)

	etcd --name sluice-test --data-dir "$KUBE_DIR/etcd" \
		--listen-client-urls "http://$addr:$KUBE_ETCD_PORT" \
		--advertise-client-urls "http://$addr:$KUBE_ETCD_PORT" \
		--listen-peer-urls "http://$addr:$peer" \
		--initial-advertise-peer-urls "http://$addr:$peer" \
		--initial-cluster "sluice-test=http://$addr:$peer" \
		--logger zap --log-level warn >"$KUBE_ETCD_LOG" 2>&1 &
	KUBE_ETCD_PID=$!
	disown "$KUBE_ETCD_PID"
	for ((i = 0; i < 200; i++)); do
		curl -fsS --max-time 1 "http://$addr:$KUBE_ETCD_PORT/health" 2>/dev/null |
			grep -q '"health":"true"' && break
		alive "$KUBE_ETCD_PID" || fail "etcd exited: $(tail -n 20 "$KUBE_ETCD_LOG")"
		sleep 0.1
	done
	((i < 200)) || fail "etcd not healthy after 20 s: $(tail -n 20 "$KUBE_ETCD_LOG")"
	log "etcd $(etcd --version | awk '/etcd Version/ {print $3}') (pid $KUBE_ETCD_PID) on $addr:$KUBE_ETCD_PORT"

	# everything at level Request (who, what, and the request body)
	cat >"$KUBE_DIR/audit-policy.yaml" <<EOF
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Request
EOF
	# ServiceAccount admission is off: it wants the token controller of a
	# controller manager, and none runs here (tests create their
	# ServiceAccounts themselves).
	# shellcheck disable=SC2054 # commas inside flag values
	KUBE_ARGS=(
		--bind-address="$addr" --secure-port="$port" --advertise-address="$addr"
		--insecure-port=0
		--etcd-servers="http://$addr:$KUBE_ETCD_PORT"
		--tls-cert-file="$KUBE_SERVING_CERT" --tls-private-key-file="$KUBE_SERVING_KEY"
		--client-ca-file="$KUBE_CA"
		--authorization-mode=Node,RBAC
		--service-account-issuer="$KUBE_SA_ISSUER"
		--api-audiences="$KUBE_SA_ISSUER"
		--service-account-key-file="$KUBE_SA_PUB"
		--service-account-signing-key-file="$KUBE_SA_KEY"
		--service-cluster-ip-range="$KUBE_SERVICE_RANGE"
		--disable-admission-plugins=ServiceAccount
		--audit-policy-file="$KUBE_DIR/audit-policy.yaml"
		--audit-log-path="$KUBE_AUDIT_LOG"
		--endpoint-reconciler-type=none
		--profiling=false
		--v=1
	)
	: >"$KUBE_LOG"
	start_kube_apiserver

	KUBECONFIG=$T/kubeconfig
	cat >"$KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: sluice-test
  cluster:
    server: $KUBE_SERVER
    certificate-authority: $KUBE_CA
users:
- name: admin
  user:
    client-certificate: $KUBE_ADMIN_CERT
    client-key: $KUBE_ADMIN_KEY
contexts:
- name: admin
  context: {cluster: sluice-test, user: admin}
current-context: admin
EOF
	export KUBECONFIG
}

kube() { "$KUBECTL" --kubeconfig "$KUBECONFIG" "$@"; }

kube_as_token() {
	local tok=$1
	shift
	"$KUBECTL" --kubeconfig /dev/null --server "$KUBE_SERVER" \
		--certificate-authority "$KUBE_CA" --token "$tok" "$@"
}

kube_api() {
	local method=$1 path=$2 body=${3:-}
	curl -sS --max-time 20 --cacert "$KUBE_CA" --cert "$KUBE_ADMIN_CERT" \
		--key "$KUBE_ADMIN_KEY" -X "$method" -H 'Content-Type: application/json' \
		${body:+--data-binary "$body"} "$KUBE_SERVER$path"
}

# The TokenRequest API (kubectl 1.20 has no `create token`); the token is
# bound to nothing but the ServiceAccount and expires after SECONDS.
kube_token() {
	local ns=$1 sa=$2 secs=${3:-3600} out tok
	out=$(kube_api POST "/api/v1/namespaces/$ns/serviceaccounts/$sa/token" \
		"{\"apiVersion\": \"authentication.k8s.io/v1\", \"kind\": \"TokenRequest\", \"spec\": {\"audiences\": [\"$KUBE_SA_ISSUER\"], \"expirationSeconds\": $secs}}") ||
		fail "TokenRequest for $ns/$sa failed: $out"
	tok=$(jget "$out" 'j.get("status", {}).get("token", "")' 2>/dev/null) || tok=
	[[ -n $tok ]] || fail "TokenRequest for $ns/$sa returned no token: $out"
	printf '%s\n' "$tok"
}

# kube_audit_count USER [VERB [RESOURCE]]: audit entries (stage
# ResponseComplete) of USER (e.g. system:serviceaccount:ns:sa)
kube_audit_count() {
	"$PY" - "$KUBE_AUDIT_LOG" "$@" <<'EOF'
import json, sys
path, user = sys.argv[1], sys.argv[2]
verb = sys.argv[3] if len(sys.argv) > 3 else None
res = sys.argv[4] if len(sys.argv) > 4 else None
n = 0
with open(path) as f:
    for line in f:
        try:
            e = json.loads(line)
        except ValueError:
            continue
        if e.get("stage") != "ResponseComplete":
            continue
        if e.get("user", {}).get("username") != user:
            continue
        if verb and e.get("verb") != verb:
            continue
        if res and e.get("objectRef", {}).get("resource") != res:
            continue
        n += 1
print(n)
EOF
}
