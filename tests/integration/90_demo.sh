#!/usr/bin/env bash
# The README's first command: scripts/demo.sh (what `make demo` runs after
# deps.sh and the build) exits 0, shows psql's result and the connection
# sluiced saw, and leaves nothing behind.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd psql
if ! why=$("$PY" "$HELPER" port-free 127.0.0.1 5432); then
	skip "127.0.0.1:5432 is taken by another process ($why): the demo starts its own PostgreSQL there"
fi
other=$(other_sluiced)
[[ -z $other ]] || fail "another sluiced is running (pid $other)"

rc=0
SLUICE_BUILD=$BUILD_DIR timeout -k 10 120 "$REPO_ROOT/scripts/demo.sh" >"$T/demo.out" 2>&1 || rc=$?
cat "$T/demo.out"
expect_eq "$rc" 0 "scripts/demo.sh exit status"
grep -q 'PostgreSQL 1[0-9]' "$T/demo.out" || fail "the demo's output has no 'select version()' result"
grep -q 'through sluice' "$T/demo.out" || fail "the demo's output has no table rows"
line=$(grep '^sluiced saw psql (pid [0-9]*, uid 0, ' "$T/demo.out") ||
	fail "the demo did not print the psql connection sluiced saw"
grep -q 'connect to 127.0.0.1:5432 (target local-postgres)' <<<"$line" ||
	fail "unexpected connection line: $line"

# and it cleaned up
pins_empty || fail "the demo left pins in $PIN_DIR: $(ls -A "$PIN_DIR")"
[[ -z $(other_sluiced) ]] || fail "the demo left sluiced running"
"$PY" "$HELPER" port-free 127.0.0.1 5432 >/dev/null || fail "the demo left PostgreSQL on 127.0.0.1:5432"
mnt=$(cgroup2_mount)
n=$(bpftool -j cgroup show "$mnt" | "$PY" "$HELPER" get 'len([p for p in j if p.get("name", "").startswith("sluice_")])')
expect_eq "$n" 0 "sluice programs attached at the cgroup2 root after the demo"
log "PASS"
