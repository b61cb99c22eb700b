# shellcheck shell=bash
# Sourced by the export tests (8x_export_*) after lib.sh: a real rsyslog
# (Debian's rsyslog + rsyslog-openssl) as the SIEM's syslog receiver.
#   start_rsyslog ADDR PORT   rsyslogd with its own config, pid file and
#                             work dir under $T/rsyslog; imtcp over TLS
#                             (RFC 5425, the "ossl" driver, a leaf of the
#                             test CA "siemca" for ADDR; octet-counted
#                             framing is imtcp's own), every message's
#                             %rawmsg% appended to $RSYSLOG_OUT
#   stop_rsyslog              SIGTERM, reaped
#   rsyslog_lines             lines received so far
#   export_status             `sluice -j export status`
#   export_field SINK EXPR    EXPR (Python, s = that sink's status object)
# The EXIT trap stops it.
SIEM=$(dirname "${BASH_SOURCE[0]}")/siem.py
RSYSLOG_DIR=$T/rsyslog
RSYSLOG_OUT=$RSYSLOG_DIR/received.log
RSYSLOG_PID=

_rsyslog_cleanup() { stop_rsyslog; }
_CLEANUP_HOOKS+=(_rsyslog_cleanup)

start_rsyslog() {
	local addr=$1 port=$2 i
	need_cmd rsyslogd openssl
	[[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_ossl.so ]] ||
		skip "rsyslog-openssl not installed (scripts/deps.sh installs it)"
	mkdir -p "$RSYSLOG_DIR/work"
	if [[ ! -e $PKI/siem.crt ]]; then
		make_ca siemca
		make_cert siemca siem "IP:$addr"
	fi
	cat >"$RSYSLOG_DIR/rsyslog.conf" <<EOF
global(
  workDirectory="$RSYSLOG_DIR/work"
  maxMessageSize="256k"
  defaultNetstreamDriver="ossl"
  defaultNetstreamDriverCAFile="$PKI/siemca.crt"
  defaultNetstreamDriverCertFile="$PKI/siem.crt"
  defaultNetstreamDriverKeyFile="$PKI/siem.key"
)
module(load="imtcp" streamDriver.name="ossl" streamDriver.mode="1"
       streamDriver.authMode="anon")
input(type="imtcp" address="$addr" port="$port" name="sluice-test")
template(name="raw" type="string" string="%rawmsg%\n")
action(type="omfile" file="$RSYSLOG_OUT" template="raw" flushOnTXEnd="on")
EOF
	"$PY" "$HELPER" port-free "$addr" "$port" >/dev/null ||
		fail "$addr:$port is already in use: $(who_listens "$port")"
	rsyslogd -n -f "$RSYSLOG_DIR/rsyslog.conf" -i "$RSYSLOG_DIR/rsyslogd.pid" \
		>>"$RSYSLOG_DIR/rsyslogd.log" 2>&1 &
	RSYSLOG_PID=$!
	for ((i = 0; i < 100; i++)); do
		[[ -n $(ss -Hltn "src $addr:$port") ]] && break
		alive "$RSYSLOG_PID" || fail "rsyslogd exited: $(tail -n 20 "$RSYSLOG_DIR/rsyslogd.log")"
		sleep 0.1
	done
	((i < 100)) || fail "rsyslogd does not listen on $addr:$port: $(tail -n 20 "$RSYSLOG_DIR/rsyslogd.log")"
	log "rsyslogd $(rsyslogd -v | head -n 1 | awk '{print $2}' | tr -d ,) (pid $RSYSLOG_PID) on $addr:$port, TLS"
}

stop_rsyslog() {
	[[ -n $RSYSLOG_PID ]] || return 0
	_kill_and_reap TERM "$RSYSLOG_PID"
	RSYSLOG_PID=
}

rsyslog_lines() { [[ -e $RSYSLOG_OUT ]] && wc -l <"$RSYSLOG_OUT" || echo 0; }

export_status() { sluice_cli -j export status 2>/dev/null || true; }

export_field() {
	export_status | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
s = next(x for x in d["sinks"] if x["name"] == sys.argv[1])
print(eval(sys.argv[2]))' "$1" "$2"
}

# caught_up SINK: the sink has taken every feed entry and is not failing
caught_up() {
	[[ $(export_field "$1" 's["lag_events"] == 0 and not s["failing"]' 2>/dev/null) == True ]]
}

# export_config FILE EXPORTS: the config of the export tests, a closed tcp
# target "web" for nginx on 127.0.10.2:8080 and EXPORTS (a JSON array) as
# "export"; relative paths in it resolve against $T
export_config() {
	cat >"$1" <<EOC
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100,
  "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "targets": [
    {"name": "web", "kind": "tcp", "match": ["127.0.10.2:8080"],
     "upstream": "127.0.10.2:8080", "fail_mode": "closed"}
  ],
  "export": $2
}
EOC
}

# sessions_ended N: the store holds N sessions, each ended
sessions_ended() {
	[[ $(sluice_cli -j session list 2>/dev/null | "$PY" -c '
import json, sys
print(sum(1 for s in json.load(sys.stdin) if s.get("end")))') == "$1" ]]
}

# save_shows: `sluice -j session show` of every session into $T/show.ID.json,
# the file names in SHOWS
save_shows() {
	local sid
	SHOWS=()
	for sid in $(sluice_cli -j session list | "$PY" -c '
import json, sys
for s in json.load(sys.stdin): print(s["id"])'); do
		sluice_cli -j session show "$sid" >"$T/show.$sid.json" || fail "session show $sid"
		SHOWS+=("$T/show.$sid.json")
	done
}
