#!/usr/bin/env bash
# Issue 3, test 2: `sluice session verify` passes on an untouched session and
# fails, naming the record, once the database is changed behind its back.
# A session through a plain target (curl fetching 1 MiB from nginx), the
# daemon stopped, then each mutation on its own copy of the store, made
# through RocksDB's own tool (ldb, from rocksdb-tools):
#   - one payload byte of a chunk flipped  -> fails naming that seq (or the
#     next, whose previous-hash no longer matches); restored -> passes again
#   - a chunk in the middle deleted        -> fails naming the missing seq
#   - two chunks' values swapped           -> fails naming the first of them
#   - the session_start event edited       -> fails naming seq 0 or 1
#   - the last record deleted              -> fails (the final seal counts it)
#   - the last record edited               -> fails (the final seal's head)
#   - a seal's signature altered           -> fails naming the seal
# The final seal also checks out offline with stock openssl against the key
# `sluice seal pubkey` prints.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
need_root
need_bpf
need_cmd curl nginx ldb openssl base64
make_cgroup
start_http 127.0.10.2 8080
write_config "$T/config.json"
start_sluiced "$T/config.json"

log "curl in the cgroup: http://127.0.10.2:8080/big.bin"
in_cgroup curl -sS --max-time 20 http://127.0.10.2:8080/big.bin >"$T/big.out" 2>"$T/curl.err" ||
	fail "curl through sluiced failed: $(cat "$T/curl.err")"
expect_eq "$(sha256sum <"$T/big.out" | awk '{print $1}')" "$HTTP_BIG_SHA" "sha256 of what curl got"
conn=$(wait_conn 5 --target web --pid "$(last_pid)" --need-bytes) ||
	fail "no web connection of curl in conn list: $(conn_list 2>&1)"
SID=$(jget "$conn" 'j.get("session") or ""')
[[ $SID =~ ^[0-9a-f]{32}$ ]] || fail "curl's connection has no session id: $conn"
wait_session_end 10 "$SID" >/dev/null
stop_sluiced TERM
expect_eq "$SLUICED_RC" 0 "sluiced exit status after SIGTERM"

# --- untouched ---------------------------------------------------------------------
store_cli session verify "$SID" >"$T/verify.out" 2>&1 ||
	fail "session verify fails on the untouched session: $(cat "$T/verify.out")"
log "untouched: $(head -c 300 "$T/verify.out")"
cp -a "$T/store" "$T/pristine"

SID_HEX=$(tr a-f A-F <<<"$SID")

# records FAMILY: "seq value-hex" of every record of the session in FAMILY
# (of the store in $STORE_DIR), via ldb
records() {
	ldb --db="$STORE_DIR" --column_family="$1" --hex scan >"$T/ldb.scan" 2>"$T/ldb.err" ||
		fail "ldb scan $1 failed: $(cat "$T/ldb.err")"
	"$PY" -c '
import sys
p = "0x" + sys.argv[1]
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 3 and f[0].startswith(p) and len(f[0]) == 2 + 48:
        print(int(f[0][34:], 16), f[2])' "$SID_HEX" "$T/ldb.scan"
}
# hex2text 0xHEX: the bytes
hex2text() { "$PY" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1][2:]))' "$1"; }
text2hex() { "$PY" -c 'import sys; print("0x" + sys.stdin.buffer.read().hex().upper())'; }
# key SEQ: the hex key of the session's record SEQ
key() { printf '0x%s%016X' "$SID_HEX" "$1"; }
ldb_do() {	# ldb_do FAMILY ARGS...: ldb --hex on $STORE_DIR
	local cf=$1
	shift
	if [[ $1 == put ]]; then
		# a 64 KiB chunk in hex is longer than one argument may be:
		# `load` takes "KEY ==> VALUE" lines on stdin instead
		printf '%s ==> %s\n' "$2" "$3" |
			ldb --db="$STORE_DIR" --column_family="$cf" --hex load >"$T/ldb.out" 2>&1 ||
			fail "ldb put (load) $2 failed: $(cat "$T/ldb.out")"
		return
	fi
	ldb --db="$STORE_DIR" --column_family="$cf" --hex "$@" >"$T/ldb.out" 2>&1 ||
		fail "ldb $* failed: $(cat "$T/ldb.out")"
}

# mutate NAME: a fresh copy of the untouched store in $STORE_DIR
mutate() {
	STORE_DIR=$T/mut-$1
	rm -rf "$STORE_DIR"
	cp -a "$T/pristine" "$STORE_DIR"
	log "mutation $1 (copy $STORE_DIR)"
}
# expect_verify_fails WHAT REGEX: verify exits 1 and its output matches REGEX
expect_verify_fails() {
	local rc=0 out
	out=$(store_cli session verify "$SID" 2>&1) || rc=$?
	expect_eq "$rc" 1 "session verify exit status after $1" "$out"
	grep -Eq -- "$2" <<<"$out" ||
		fail "session verify after $1 does not name the record (want /$2/): $out"
	log "  verify after $1: $out"
}
expect_verify_passes() {
	local out
	out=$(store_cli session verify "$SID" 2>&1) ||
		fail "session verify fails after $1: $out"
	log "  verify after $1: $out"
}

STORE_DIR=$T/pristine
records chunks >"$T/chunks.txt"
records events >"$T/events.txt"
nchunks=$(wc -l <"$T/chunks.txt")
nevents=$(wc -l <"$T/events.txt")
last=$(sort -n "$T/chunks.txt" "$T/events.txt" | tail -n 1 | awk '{print $1}')
log "session $SID: $nchunks chunks, $nevents events, seqs 0..$last"
expect_ge "$nchunks" 4 "chunks of a 1 MiB download"
# seqs are dense: 0..last, each in exactly one family
expect_eq "$(cat "$T/chunks.txt" "$T/events.txt" | awk '{print $1}' | sort -n | uniq | wc -l)" \
	"$((last + 1))" "distinct seqs of the session (0..$last)"
expect_eq "$((nchunks + nevents))" "$((last + 1))" "records of the session"
# the session as the CLI sees it agrees with the database
show=$(store_cli -j session show "$SID")
expect_eq "$(jget "$show" 'j["events"][0]["type"]')" session_start "first event"
expect_eq "$(jget "$show" 'j["events"][-1]["type"]')" session_end "last event"
expect_eq "$(jget "$show" '[e["seq"] for e in j["events"]]')" \
	"$(awk '{print $1}' "$T/events.txt" | sort -n | paste -sd, | sed 's/^/[/; s/$/]/; s/,/, /g')" \
	"seqs of the events in session show vs the events family"

# a chunk in the middle with a payload, and the chunk after it
mid=$(sort -n "$T/chunks.txt" | awk -v n="$nchunks" 'NR == int(n / 2) {print $1}')
val=$(awk -v s="$mid" '$1 == s {print $2}' "$T/chunks.txt")
next_seq=$(sort -n "$T/chunks.txt" | awk -v s="$mid" '$1 > s && !n++ {print $1}')
next_val=$(awk -v s="$next_seq" '$1 == s {print $2}' "$T/chunks.txt")
[[ -n $next_seq && ${#val} -gt $((2 + 96 + 40)) ]] ||
	fail "no middle chunk with a payload to mutate (mid=$mid next=$next_seq len=${#val})"
log "middle chunk: seq $mid ($(((${#val} - 2) / 2)) bytes), next chunk: seq $next_seq"

# --- 1. one byte of a chunk's payload flipped, then restored -------------------------
mutate edit
off=$((2 + 2 * (48 + 17)))	# hex digits: "0x" + header + 17 bytes into the payload
byte=${val:off:2}
flipped=$(printf '%02X' $((0x$byte ^ 0x01)))
ldb_do chunks put "$(key "$mid")" "${val:0:off}$flipped${val:off+2}"
expect_verify_fails "flipping one payload byte of seq $mid" "seq ($mid|$((mid + 1)))([^0-9]|$)"
ldb_do chunks put "$(key "$mid")" "$val"
expect_verify_passes "restoring seq $mid"

# --- 2. a chunk in the middle deleted -------------------------------------------------
mutate delete
ldb_do chunks delete "$(key "$mid")"
expect_verify_fails "deleting seq $mid" "seq $mid([^0-9]|$)"

# --- 3. two chunks swapped ------------------------------------------------------------
mutate swap
ldb_do chunks put "$(key "$mid")" "$next_val"
ldb_do chunks put "$(key "$next_seq")" "$val"
expect_verify_fails "swapping seq $mid and seq $next_seq" "seq $mid([^0-9]|$)"

# --- 4. the session_start event edited (the identity inside the chain) ---------------
mutate event
ev0=$(awk '$1 == 0 {print $2}' "$T/events.txt")
[[ -n $ev0 ]] || fail "no event at seq 0"
# "uid":0 -> "uid":7 (hex of the JSON text)
uid_hex=$(printf '"uid":0' | text2hex)
uid7_hex=$(printf '"uid":7' | text2hex)
uid_hex=${uid_hex#0x} uid7_hex=${uid7_hex#0x}
[[ $ev0 == *"$uid_hex"* ]] || fail "session_start has no \"uid\":0: $(hex2text "$ev0" | tail -c +49 | head -c 600)"
ldb_do events put "$(key 0)" "${ev0/$uid_hex/$uid7_hex}"
expect_verify_fails "editing the uid in session_start (seq 0)" "seq (0|1)([^0-9]|$)"

# --- 5. the last record (session_end) removed -----------------------------------------
mutate tail
ldb_do events delete "$(key "$last")"
expect_verify_fails "deleting the last record, seq $last" "(seq $((last - 1))|seq $last|$((last + 1)))([^0-9]|$)"

# --- 6. the last record (session_end) edited: only the seal's head covers it ------
mutate tail-edit
evl=$(awk -v s="$last" '$1 == s {print $2}' "$T/events.txt")
[[ -n $evl ]] || fail "the last record (seq $last) is not an event"
closed_hex=$(printf '"status":"closed"' | text2hex)
error_hex=$(printf '"status":"error!"' | text2hex)
closed_hex=${closed_hex#0x} error_hex=${error_hex#0x}
[[ $evl == *"$closed_hex"* ]] || fail "session_end has no \"status\":\"closed\": $(hex2text "$evl" | tail -c +49)"
ldb_do events put "$(key "$last")" "${evl/$closed_hex/$error_hex}"
expect_verify_fails "editing the last record, seq $last (session_end)" "seq $last([^0-9]|$)|[Ss]eal"

# --- 7. a seal's signature altered -----------------------------------------------------
STORE_DIR=$T/pristine
seals=$(ldb --db="$STORE_DIR" --column_family=seals --hex scan 2>&1 |
	awk -v s="$SID_HEX" 'length($1) == 50 && substr($1, 19, 32) == s {print $1, $3}')
[[ -n $seals ]] || fail "no seal of session $SID in the seals family"
log "seals of the session: $(wc -l <<<"$seals")"
final=$(
	while read -r k v; do
		json=$(hex2text "$v")
		if [[ $(jget "$json" '"final=1" in j["payload"].split("\n")') == true ]]; then
			echo "$k $v"
		fi
	done <<<"$seals" | tail -n 1
)
[[ -n $final ]] || fail "no final seal (final=1) among the session's seals"
read -r seal_key seal_val <<<"$final"
seal_json=$(hex2text "$seal_val")
payload=$(jget "$seal_json" 'j["payload"]')
sig=$(jget "$seal_json" 'j["sig"]')
grep -qx "session=$SID" <<<"$payload" || fail "final seal names another session: $payload"
grep -qx "records=$((last + 1))" <<<"$payload" || fail "final seal does not count $((last + 1)) records: $payload"

# offline, with stock openssl and the exported public key
store_cli seal pubkey >"$T/seal.pub" 2>"$T/pubkey.err" ||
	fail "sluice seal pubkey failed: $(cat "$T/pubkey.err")"
grep -q 'BEGIN PUBLIC KEY' "$T/seal.pub" || fail "seal pubkey printed no PEM public key: $(cat "$T/seal.pub")"
"$PY" -c 'import json,sys; sys.stdout.write(json.loads(sys.stdin.read())["payload"])' <<<"$seal_json" >"$T/seal.text"
base64 -d <<<"$sig" >"$T/seal.sig"
openssl pkeyutl -verify -pubin -inkey "$T/seal.pub" -rawin -in "$T/seal.text" \
	-sigfile "$T/seal.sig" >"$T/pkeyutl.out" 2>&1 ||
	fail "openssl pkeyutl does not verify the final seal with the exported key: $(cat "$T/pkeyutl.out")"
log "final seal verified offline by openssl: $(cat "$T/pkeyutl.out")"

mutate seal
# flip one bit of the signature and store the seal back
bad_sig=$("$PY" -c 'import base64,sys; b=bytearray(base64.b64decode(sys.argv[1])); b[5]^=1; print(base64.b64encode(bytes(b)).decode())' "$sig")
bad_json=$("$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); d["sig"]=sys.argv[2]; print(json.dumps(d), end="")' "$seal_json" "$bad_sig")
ldb_do seals put "$seal_key" "$(printf '%s' "$bad_json" | text2hex)"
expect_verify_fails "altering the final seal's signature" "[Ss]eal"

# the untouched copy still verifies, and the daemon's own store was never touched
STORE_DIR=$T/pristine
expect_verify_passes "all the mutations (on copies)"
STORE_DIR=$T/store
expect_verify_passes "all the mutations (the daemon's store)"
log "PASS"
