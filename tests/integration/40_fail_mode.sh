#!/usr/bin/env bash
# Issue 2, test 4: kill -9 of sluiced. The programs stay attached (pinned
# links); once the heartbeat is stale (> stale_ms), the `closed` target pg
# refuses the connect (ECONNREFUSED, counted as refused) while the `open`
# target web goes directly to its server (counted as bypassed). A restarted
# sluiced reports the gap (target list, ring-buffer events in its log),
# redirects again, and each of the five programs is attached exactly once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd psql curl nginx bpftool
make_cgroup
start_postgres 127.0.10.1 5432
start_http 127.0.10.2 8080
write_config "$T/config.json"	# heartbeat_ms 100, stale_ms 500
start_sluiced "$T/config.json"

check_attached() {	# check_attached WHEN
	local got
	got=$(attach_counts "$CG") || fail "bpftool cgroup show $CG failed ($1)"
	expect_eq "$got" "$ATTACH_EXPECTED" "programs attached to $CG ($1)" \
		"$(bpftool cgroup show "$CG" 2>&1)"
}
prog_ids() { bpftool -j cgroup show "$CG" | "$PY" "$HELPER" get 'sorted(p["id"] for p in j)'; }
# link_ids: "name=id ..." of the links pinned under $PIN_DIR
link_ids() {
	local f id out=()
	for f in "$PIN_DIR"/link_*; do
		[[ -e $f ]] || continue
		id=$(bpftool -j link show pinned "$f" | "$PY" "$HELPER" get 'j["id"]') ||
			fail "bpftool link show pinned $f failed"
		out+=("${f##*/}=$id")
	done
	echo "${out[*]}"
}

# redirected_psql WHEN: psql in the cgroup works and is seen by the daemon
redirected_psql() {
	local out pid
	out=$(in_cgroup psql -X -h 127.0.10.1 -p 5432 -U postgres -d postgres -At -c 'select 41 + 1') ||
		fail "psql through sluiced failed ($1): $out"
	pid=$(last_pid)
	expect_eq "$out" 42 "psql result ($1)"
	wait_conn 5 --target pg --pid "$pid" --need-bytes >/dev/null ||
		fail "psql (pid $pid) not in conn list ($1): $(conn_list 2>&1)"
}
# curl_web WHEN: prints curl's local port; the body must be right
curl_web() {
	local out
	out=$(in_cgroup curl -sS --max-time 10 -w '%{stderr}local_port=%{local_port}\n' \
		http://127.0.10.2:8080/index.html 2>"$T/curl.err") ||
		fail "curl in the cgroup to the open target failed ($1): $(cat "$T/curl.err")"
	expect_eq "$out" "$HTTP_TOKEN" "curl body ($1)"
	sed -n 's/^local_port=//p' "$T/curl.err"
}

# --- with the daemon up: redirected ----------------------------------------------
check_attached "daemon up"
ids_before=$(prog_ids)
links_before=$(link_ids)
[[ $(wc -w <<<"$links_before") == 5 ]] || fail "expected 5 links pinned in $PIN_DIR, got: $links_before"
redirected_psql "daemon up"
lport=$(curl_web "daemon up")
wait_conn 5 --target web --client-port "$lport" >/dev/null ||
	fail "curl (port $lport) not in conn list: $(conn_list 2>&1)"
if http_log_has_port "$lport"; then fail "daemon up: nginx saw curl's own port: not proxied"; fi
refused0=$(target_field pg refused)
bypassed0=$(target_field web bypassed)

# --- kill -9 ----------------------------------------------------------------------
stop_sluiced KILL
expect_eq "$SLUICED_RC" 137 "sluiced's status after SIGKILL"
check_attached "daemon killed: the pinned links hold"
sleep 1.5	# 3 x stale_ms

# the open target goes direct: nginx sees curl's own port
lport=$(curl_web "daemon dead, fail_mode open")
wait_until 2 http_log_has_port "$lport" ||
	fail "daemon dead: the open target's connection did not reach nginx directly
$(cat "$HTTP_DIR/access.log")"
log "open target passed directly (port $lport)"

# the closed target refuses, although PostgreSQL is up (psql from outside works)
out=$(psql -X -h 127.0.10.1 -p 5432 -U postgres -d postgres -At -c 'select 1') ||
	fail "psql from outside the cgroup failed while the daemon is down: $out"
probe=$(in_cgroup "$PY" "$HELPER" probe 127.0.10.1 5432) &&
	fail "daemon dead: the closed target pg accepted a connection: $probe"
expect_eq "$(jget "$probe" 'j["errno"]')" ECONNREFUSED "connect() to the closed target with the daemon dead" "$probe"
if out=$(in_cgroup psql -X -h 127.0.10.1 -p 5432 -U postgres -d postgres -At -c 'select 1' 2>&1); then
	fail "daemon dead: psql to the closed target worked: $out"
fi
grep -qi 'refused' <<<"$out" || fail "psql's error is not 'connection refused': $out"
log "closed target refused: $out"

# the CLI, without its daemon, reads the counters from the pinned maps
rc=0
tl=$(sluice_cli -j target list 2>"$T/tl.err") || rc=$?
expect_eq "$rc" 1 "exit status of sluice target list with the daemon down" "$tl $(cat "$T/tl.err")"
# (without the daemon the maps may not know the names: match by address)
expect_ge "$(jget "$tl" '[t for t in j["targets"] if t.get("name") == "pg" or "127.0.10.1:5432" in t.get("match", [])][0]["refused"]')" \
	$((refused0 + 2)) "pg refused (from the maps, daemon down)" "$tl"
expect_ge "$(jget "$tl" '[t for t in j["targets"] if t.get("name") == "web" or "127.0.10.2:8080" in t.get("match", [])][0]["bypassed"]')" \
	$((bypassed0 + 1)) "web bypassed (from the maps, daemon down)" "$tl"
rc=0
sluice_cli status >"$T/status.txt" 2>&1 || rc=$?
expect_eq "$rc" 1 "exit status of sluice status with the daemon down" "$(cat "$T/status.txt")"

# --- restart ------------------------------------------------------------------------
start_sluiced "$T/config.json"
check_attached "daemon restarted"
ids_after=$(prog_ids)
log "program ids before kill: $ids_before, after restart: $ids_after"
expect_eq "$(link_ids)" "$links_before" "pinned links after the restart (reused, not re-created)"
expect_ge "$(target_field web bypassed)" $((bypassed0 + 1)) "web bypassed (daemon restarted)"
expect_ge "$(target_field pg refused)" $((refused0 + 2)) "pg refused (daemon restarted)"
wait_until 5 grep -q '"msg": *"bypass"' "$SLUICED_LOG" ||
	fail "the restarted daemon did not log the bypass ring-buffer event:
$(tail -n 30 "$SLUICED_LOG")"
grep '"msg": *"bypass"' "$SLUICED_LOG" | grep -q '8080' ||
	fail "the bypass event does not name 127.0.10.2:8080: $(grep '"msg": *"bypass"' "$SLUICED_LOG")"
wait_until 5 grep -q '"msg": *"refuse' "$SLUICED_LOG" ||
	fail "the restarted daemon did not log the refuse ring-buffer event:
$(tail -n 30 "$SLUICED_LOG")"
log "restarted daemon logged: $(grep -E '"msg": *"(bypass|refuse)' "$SLUICED_LOG" | head -n 3)"

redirected_psql "daemon restarted"
lport=$(curl_web "daemon restarted")
wait_conn 5 --target web --client-port "$lport" >/dev/null ||
	fail "after restart: curl (port $lport) not in conn list: $(conn_list 2>&1)"
if http_log_has_port "$lport"; then fail "after restart: nginx saw curl's own port: not proxied"; fi
sluice_cli status >"$T/status.txt" 2>&1 ||
	fail "sluice status exits non-zero after the restart: $(cat "$T/status.txt")"
check_attached "after traffic on the restarted daemon"
log "PASS"
