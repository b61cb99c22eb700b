#!/usr/bin/env bash
# Issue 5, test 5: unmodified pgbench through a postgres target. A real
# PostgreSQL 15 on 127.0.10.78 requires SCRAM from role app, whose
# password only sluice holds. pgbench in the test cgroup (no password)
# runs -i (DDL, COPY, VACUUM), then -S and -N for a bounded number of
# transactions, over the simple and the extended (prepared) protocol, with
# 4 clients; the same runs go direct (outside the cgroup, with the
# password). Each must complete with the same transaction count and no
# failed transaction, and the recording must hold the statements.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd pgbench
make_cgroup
A=127.0.10.78
P=5478
PASS="bench-$RANDOM-$RANDOM"
BIN=$(pg_bindir) || skip "PostgreSQL server not installed"
start_postgres "$A" "$P"
PGDIR=${PG_SOCKDIR%/sock}
runuser -u postgres -- "$BIN/psql" -X -q -h "$PG_SOCKDIR" -p "$P" -U postgres -d postgres \
	-v ON_ERROR_STOP=1 <<EOF || fail "role"
SET password_encryption = 'scram-sha-256';
CREATE ROLE app LOGIN PASSWORD '$PASS';
CREATE DATABASE bench OWNER app;
EOF
printf 'local all all trust\nhost all app 127.0.0.0/8 scram-sha-256\n' >"$PGDIR/data/pg_hba.conf"
runuser -u postgres -- "$BIN/pg_ctl" -D "$PGDIR/data" reload >/dev/null || fail "reload"
printf '%s\n' "$PASS" >"$T/app.pass"

cat >"$T/config.json" <<EOF
{
  "cgroup": "$CG",
  "control": "$T/ctl.sock",
  "listen": {"ipv4": "127.0.0.1", "ipv6": "::1", "port": 15443},
  "heartbeat_ms": 100, "stale_ms": 500,
  "store": {"path": "$T/store", "seal_key": "$T/seal.key"},
  "targets": [
    {"name": "pg", "kind": "postgres", "match": ["$A:$P"], "upstream": "$A:$P",
     "fail_mode": "closed",
     "credential": {"user": "app", "password_file": "$T/app.pass"}}
  ]
}
EOF
start_sluiced "$T/config.json"

CONN="host=$A port=$P user=agent dbname=bench connect_timeout=10"
DIRECT="host=$A port=$P user=app dbname=bench connect_timeout=10"
# processed OUTPUT: "N/M" of "number of transactions actually processed"
processed() { sed -n 's/^number of transactions actually processed: \([0-9/]*\).*/\1/p' <<<"$1"; }
failed() { sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$1"; }

out=$(in_cgroup env -u PGPASSWORD pgbench -i -s 1 "$CONN" 2>&1) || fail "pgbench -i through sluice: $out"
log "pgbench -i through sluice: $(tail -n 1 <<<"$out")"
n=$(runuser -u postgres -- "$BIN/psql" -X -At -h "$PG_SOCKDIR" -p "$P" -d bench -c 'SELECT count(*) FROM pgbench_accounts')
expect_eq "$n" 100000 "accounts loaded by COPY through sluice"

for mode in simple prepared; do
	for kind in -S -N; do
		via=$(in_cgroup env -u PGPASSWORD timeout 120 pgbench -n "$kind" -M "$mode" -c 4 -j 2 -t 250 "$CONN" 2>&1) ||
			fail "pgbench $kind -M $mode through sluice: $via"
		direct=$(PGPASSWORD=$PASS timeout 120 pgbench -n "$kind" -M "$mode" -c 4 -j 2 -t 250 "$DIRECT" 2>&1) ||
			fail "pgbench $kind -M $mode direct: $direct"
		log "$kind -M $mode: sluice $(processed "$via") $(grep -o 'tps = [0-9.]*' <<<"$via" | head -n 1), direct $(processed "$direct") $(grep -o 'tps = [0-9.]*' <<<"$direct" | head -n 1)"
		expect_eq "$(processed "$via")" "1000/1000" "transactions through sluice ($kind -M $mode)" "$via"
		expect_eq "$(processed "$via")" "$(processed "$direct")" "same count as direct ($kind -M $mode)"
		expect_eq "$(failed "$via")" "0" "failed transactions through sluice ($kind -M $mode)"
	done
done

# the recording: statements of the last (prepared) run, with their rows
sid=$(conn_list | "$PY" -c 'import json,sys; c=[x for x in json.load(sys.stdin)["connections"] if x["target"]=="pg"]; c.sort(key=lambda x: x["id"]); print(c[-1]["session"])')
show=$(wait_session_end 10 "$sid")
st=$(jget "$show" 'len([e for e in j["events"] if e.get("type") == "statement" and e.get("protocol") == "extended" and e.get("command") == "UPDATE" and e.get("rows") == 1])')
expect_ge "$st" 250 "extended-protocol UPDATE events with 1 row in the last session"
alive "$SLUICED_PID" || fail "sluiced died"
log "PASS"
