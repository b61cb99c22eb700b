#!/usr/bin/env bash
# Issue 2, test 5: a test run leaves nothing attached or pinned behind, even
# when a test fails. Runs sub-tests that source lib.sh and start sluiced:
#   A. one that fails on purpose (exit 1) once the daemon is up;
#   B. one interrupted by SIGTERM to its process group, as the runner's
#      timeout does;
# after each: no pins under /sys/fs/bpf/sluice, the daemon gone, the cgroup
# removed (or, if it is still there, nothing attached to it), the temp dir
# removed. Then C: a daemon stopped by SIGTERM exits 0 and leaves its pins
# and links (by design), and `sluiced --uninstall` removes them, twice in a
# row with exit 0.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd bpftool

pins_empty || fail "pins under $PIN_DIR before the test: $(ls -A "$PIN_DIR" | tr '\n' ' ')"

# the sub-test: started with OUT=<dir>, MODE=fail|hang
cat >"$T/subtest.sh" <<'EOF'
#!/usr/bin/env bash
source "$LIB"
need_root
make_cgroup
echo "$CG" >"$OUT/cg"
echo "$T" >"$OUT/tmp"
write_config "$T/config.json"
start_sluiced "$T/config.json"
echo "$SLUICED_PID" >"$OUT/pid"
bpftool -j cgroup show "$CG" >"$OUT/attached.json"
ls -A "$PIN_DIR" >"$OUT/pins"
case $MODE in
fail)
	touch "$OUT/ready"
	fail "failing on purpose with sluiced up"
	;;
hang)
	# `wait` (unlike a foreground sleep) lets the TERM trap run at once
	sleep 120 &
	touch "$OUT/ready"
	wait $!
	;;
esac
EOF

check_after() {	# check_after NAME OUTDIR
	local name=$1 out=$2 cg pid
	[[ -s $out/attached.json && -s $out/pins ]] ||
		fail "$name: the sub-test never got its daemon up; its output:
$(cat "$out/log")"
	expect_eq "$("$PY" "$HELPER" attach-count <"$out/attached.json")" "$ATTACH_EXPECTED" \
		"$name: programs attached while the sub-test ran"
	pid=$(cat "$out/pid")
	if alive "$pid"; then
		fail "$name: the sub-test's sluiced (pid $pid) is still running: $(ps -o pid,ppid,stat,etime,cmd -p "$pid")
sub-test output:
$(cat "$out/log")"
	fi
	pins_empty || fail "$name: pins left behind in $PIN_DIR: $(ls -A "$PIN_DIR")"
	cg=$(cat "$out/cg")
	if [[ -d $cg ]]; then
		local n
		n=$(bpftool -j cgroup show "$cg" | "$PY" "$HELPER" get 'len(j)')
		expect_eq "$n" 0 "$name: programs still attached to $cg" "$(bpftool cgroup show "$cg")"
		fail "$name: cgroup $cg was not removed"
	fi
	[[ ! -e $(cat "$out/tmp") ]] || fail "$name: temp dir $(cat "$out/tmp") was not removed"
	log "$name: nothing left behind (cgroup $cg, daemon pid $pid)"
}

# --- A: a test that fails --------------------------------------------------------------
mkdir "$T/a"
rc=0
LIB=$LIB_DIR/lib.sh OUT=$T/a MODE=fail timeout -k 10 60 bash "$T/subtest.sh" \
	>"$T/a/log" 2>&1 || rc=$?
log "sub-test A exited $rc"
expect_eq "$rc" 1 "exit status of the failing sub-test" "$(cat "$T/a/log")"
grep -q 'failing on purpose' "$T/a/log" || fail "sub-test A did not fail where intended: $(cat "$T/a/log")"
check_after "A (failed test)" "$T/a"

# --- B: a test interrupted by SIGTERM to its process group (a timeout) -------------
mkdir "$T/b"
LIB=$LIB_DIR/lib.sh OUT=$T/b MODE=hang timeout -k 10 60 bash "$T/subtest.sh" \
	>"$T/b/log" 2>&1 &
tpid=$!
wait_until 20 test -e "$T/b/ready" || fail "sub-test B never got ready: $(cat "$T/b/log")"
kill -TERM "$tpid"	# timeout passes it on to its whole process group
rc=0
wait "$tpid" || rc=$?
log "sub-test B exited $rc after SIGTERM"
[[ $rc == 143 || $rc == 124 ]] || fail "sub-test B: exit status $rc after SIGTERM: $(cat "$T/b/log")"
check_after "B (interrupted test)" "$T/b"

# --- C: SIGTERM leaves the pins (by design); --uninstall removes them --------------
make_cgroup
write_config "$T/config.json"
start_sluiced "$T/config.json"
prog_ids=$(bpftool -j cgroup show "$CG" | "$PY" "$HELPER" get '" ".join(str(p["id"]) for p in j)')
stop_sluiced TERM
expect_eq "$SLUICED_RC" 0 "sluiced's exit status after SIGTERM" "$(tail -n 20 "$SLUICED_LOG")"
pins_empty && fail "no pins under $PIN_DIR after a SIGTERM'd daemon (they should stay)"
log "pins after SIGTERM: $(ls -A "$PIN_DIR" | tr "\n" " ")"
expect_eq "$(attach_counts "$CG")" "$ATTACH_EXPECTED" "programs attached after SIGTERM (the pins hold them)"
rc=0
"$SLUICED" --uninstall >"$T/uninstall.log" 2>&1 || rc=$?
expect_eq "$rc" 0 "sluiced --uninstall exit status" "$(cat "$T/uninstall.log")"
pins_empty || fail "sluiced --uninstall left pins: $(ls -A "$PIN_DIR")"
expect_eq "$(bpftool -j cgroup show "$CG" | "$PY" "$HELPER" get 'len(j)')" 0 \
	"programs attached to $CG after --uninstall" "$(bpftool cgroup show "$CG")"
progs_gone() {	# the programs that were attached are unloaded
	local id
	for id in $prog_ids; do
		bpftool prog show id "$id" >/dev/null 2>&1 && return 1
	done
	return 0
}
wait_until 5 progs_gone ||
	fail "bpf programs $prog_ids still loaded after sluiced exited and --uninstall: $(bpftool prog show 2>&1 | grep -A2 sluice_)"
rc=0
"$SLUICED" --uninstall >"$T/uninstall2.log" 2>&1 || rc=$?
expect_eq "$rc" 0 "a second sluiced --uninstall (nothing there) exit status" "$(cat "$T/uninstall2.log")"
log "PASS"
