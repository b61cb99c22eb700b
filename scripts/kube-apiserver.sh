#!/usr/bin/env bash
# scripts/kube-apiserver.sh: print the path of a kube-apiserver v1.20.2
# binary for the tests, building it the first time on this machine.
#
# Debian 12 ships no kube-apiserver, but its source package `kubernetes`
# is the upstream v1.20.2 tree with vendor/, and bookworm's golang-go
# builds it in GOPATH mode. The source comes through `apt-get source` with
# a private deb-src list and private apt state (the system's apt sources
# and lists are left alone); the binary is cached outside the source tree
# ($SLUICE_KUBE_CACHE, default /var/cache/sluice), so the build (~3-5 min
# on 2 cores) happens once per machine. Also makes sure the other pieces
# of the test fixture are installed: etcd-server, and a kubectl (Debian's
# kubernetes-client when the machine has none).
#
# Idempotent and safe to run concurrently (flock): with everything present
# it prints the path and touches neither the network nor the disk.
# Exit 0 and the path on stdout; 1 with the reason on stderr.
set -euo pipefail

KUBE_VERSION=v1.20.2
DEB_VERSION=1.20.5+really1.20.2-1.1+deb12u1
# bumped whenever the way it is built changes, so a machine's stale cache
# is not used
BUILD_REV=2
CACHE=${SLUICE_KUBE_CACHE:-/var/cache/sluice}
BIN=$CACHE/kube-apiserver-$KUBE_VERSION-$BUILD_REV
REFLECT2=/usr/share/gocode/src/github.com/modern-go/reflect2

die() {
	printf 'kube-apiserver.sh: %s\n' "$*" >&2
	exit 1
}

installed() {
	local status
	status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) ||
		return 1
	[[ $status == installed ]]
}

# missing_pkgs: the Debian packages the fixture still lacks
missing_pkgs() {
	local p out=()
	command -v etcd >/dev/null 2>&1 || out+=(etcd-server)
	command -v kubectl >/dev/null 2>&1 || out+=(kubernetes-client)
	if [[ ! -x $BIN ]]; then
		for p in golang-go rsync dpkg-dev make golang-github-modern-go-reflect2-dev; do
			installed "$p" || out+=("$p")
		done
	fi
	echo "${out[*]}"
}

if [[ -x $BIN && -z $(missing_pkgs) ]]; then
	echo "$BIN"
	exit 0
fi

if [[ ${EUID:-$(id -u)} -ne 0 ]]; then
	what=$(missing_pkgs)
	what=${what:+install $what}
	[[ -x $BIN ]] || what+="${what:+ and }build $BIN"
	die "needs root to $what"
fi
command -v dpkg-query >/dev/null 2>&1 || die "not a Debian system (no dpkg-query)"
mkdir -p "$CACHE"
exec 9>"$CACHE/kube-apiserver.lock"
flock 9

# --- packages ---------------------------------------------------------------
missing=$(missing_pkgs)
if [[ -n $missing ]]; then
	echo "kube-apiserver.sh: installing $missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	# etcd-server would start the distribution's etcd on 127.0.0.1:2379;
	# the tests start their own. Keep apt from starting services, unless
	# the machine has a policy of its own (as scripts/deps.sh does).
	policy=/usr/sbin/policy-rc.d
	own_policy=0
	if [[ ! -e $policy ]]; then
		printf '#!/bin/sh\n# written by sluice scripts/kube-apiserver.sh during apt-get install\nexit 101\n' >"$policy"
		chmod 755 "$policy"
		own_policy=1
	fi
	rc=0
	# shellcheck disable=SC2086
	{ apt-get update -q && apt-get install -y -q --no-install-recommends $missing; } >&2 || rc=$?
	((own_policy)) && rm -f "$policy"
	((rc == 0)) || die "apt-get install $missing failed (status $rc)"
	[[ -z $(missing_pkgs) ]] || die "still missing after apt-get install: $(missing_pkgs)"
fi

if [[ -x $BIN ]]; then
	echo "$BIN"
	exit 0
fi

# --- source, through a private apt -------------------------------------------
WORK=$(mktemp -d "$CACHE/build.XXXXXX")
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
started=$SECONDS

# The mirror the machine already uses (deb822 or one-line sources), as a
# deb-src list of our own.
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null |
	grep -v -- '-security' | head -n 1 || true)
if [[ -z $mirror ]]; then
	mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|ftp):/) { print $i; exit } }' \
		/etc/apt/sources.list 2>/dev/null || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
security=${mirror%/debian}/debian-security
APT=$WORK/apt
mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/parts" "$APT/prefs"
cat >"$APT/sources.list" <<EOF
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-updates main
deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $security bookworm-security main
EOF
apt_opts=(
	-o "Dir::Etc::SourceList=$APT/sources.list"
	-o "Dir::Etc::SourceParts=$APT/parts"
	-o "Dir::Etc::PreferencesParts=$APT/prefs"
	-o "Dir::State::Lists=$APT/lists"
	-o "Dir::Cache=$APT/cache"
	-o "Dir::Cache::pkgcache="
	-o "Dir::Cache::srcpkgcache="
	-o "APT::Sandbox::User=root"
	-q
)
echo "kube-apiserver.sh: fetching kubernetes $DEB_VERSION source from $mirror" >&2
apt-get "${apt_opts[@]}" update >"$WORK/apt-update.log" 2>&1 ||
	die "apt-get update (private deb-src list) failed: $(tail -n 5 "$WORK/apt-update.log")"
(cd "$WORK" && apt-get "${apt_opts[@]}" source "kubernetes=$DEB_VERSION") >"$WORK/apt-source.log" 2>&1 ||
	die "apt-get source kubernetes=$DEB_VERSION failed: $(tail -n 5 "$WORK/apt-source.log")"
src=$(find "$WORK" -maxdepth 1 -type d -name 'kubernetes-*' | head -n 1)
[[ -n $src && -d $src/cmd/kube-apiserver ]] || die "no kubernetes source tree in $WORK"

# --- build (GOPATH mode) ------------------------------------------------------
gopath=$WORK/go
mkdir -p "$gopath/src/k8s.io"
mv "$src" "$gopath/src/k8s.io/kubernetes"
src=$gopath/src/k8s.io/kubernetes
# The vendored reflect2 1.0.1 breaks under Go >= 1.18: json-iterator's
# decoders panic (nil pointer in reflect2 Type2) on some first decodes,
# e.g. creating a Pod. Debian's 1.0.2 is the same API with the fix.
[[ -f $REFLECT2/reflect2.go ]] || die "$REFLECT2 missing (golang-github-modern-go-reflect2-dev)"
rm -rf "$src/vendor/github.com/modern-go/reflect2"
cp -r "$REFLECT2" "$src/vendor/github.com/modern-go/reflect2"
export GOPATH=$gopath GO111MODULE=off GOFLAGS='' GOCACHE=$WORK/gocache \
	GOTOOLCHAIN=local CGO_ENABLED=0 KUBE_VERBOSE=0
echo "kube-apiserver.sh: building kube-apiserver $KUBE_VERSION with $(go version | awk '{print $3}') (a few minutes)" >&2
# The OpenAPI definitions are generated, not in the tarball.
(cd "$src" && make gen_openapi) >"$WORK/gen.log" 2>&1 ||
	die "make gen_openapi failed: $(tail -n 20 "$WORK/gen.log")"
(cd "$src" && go build -o "$WORK/kube-apiserver" \
	-ldflags "-s -w -X k8s.io/kubernetes/vendor/k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/kubernetes/vendor/k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION" \
	./cmd/kube-apiserver) >"$WORK/build.log" 2>&1 ||
	die "go build ./cmd/kube-apiserver failed: $(tail -n 20 "$WORK/build.log")"
"$WORK/kube-apiserver" --version >/dev/null 2>&1 || die "the built kube-apiserver does not run"
install -m 755 "$WORK/kube-apiserver" "$BIN.tmp"
mv -f "$BIN.tmp" "$BIN"
echo "kube-apiserver.sh: built $BIN in $((SECONDS - started)) s" >&2
echo "$BIN"
