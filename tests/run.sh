#!/usr/bin/env bash
# tests/run.sh BUILD_DIR [GLOB]: every unit test binary BUILD_DIR/tests/*_test
# (Criterion) and every tests/integration/[0-9]*.sh (exit 0 pass, 77 skip
# with a "SKIP: reason" line, anything else fail), each under a timeout,
# each logged to BUILD_DIR/test-logs/. Prints one line per test, the log tail
# of each failure, and ends with exactly one line "N passed, N failed,
# N skipped" (unit test cases + integration scripts). Exit 1 if anything
# failed. GLOB (default [0-9]*) narrows the integration tests run.
set -euo pipefail

usage() {
	echo "usage: $0 BUILD_DIR [GLOB]   (e.g. tests/run.sh build/san; GLOB picks integration tests: '40_*')" >&2
	exit 2
}
(($# == 1 || $# == 2)) || usage
IT_GLOB=${2:-[0-9]*}
[[ -d $1 ]] || {
	echo "run.sh: $1 is not a directory (build first: make BUILD=$1 all unit-bins)" >&2
	exit 2
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(cd "$1" && pwd)
LOGS=$BUILD/test-logs
UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
IT_TIMEOUT=${IT_TIMEOUT:-300}
TAIL_LINES=${TAIL_LINES:-60}
rm -rf "$LOGS"
mkdir -p "$LOGS"
cd "$ROOT"

passed=0 failed=0 skipped=0
failures=()

show_tail() {	# show_tail LOGFILE
	echo "    ---- last $TAIL_LINES lines of $1 ----"
	tail -n "$TAIL_LINES" "$1" | sed 's/^/    | /'
	echo "    ----"
}

# --- unit tests (Criterion) ---------------------------------------------------
shopt -s nullglob
unit_bins=("$BUILD"/tests/*_test)
if ((${#unit_bins[@]} == 0)); then
	echo "note: no unit test binaries in $BUILD/tests (make BUILD=... unit-bins)"
fi
for bin in "${unit_bins[@]}"; do
	[[ -x $bin ]] || continue
	name=unit/$(basename "$bin")
	log=$LOGS/$(basename "$bin").log
	tap=$LOGS/$(basename "$bin").tap
	rc=0
	timeout -k 10 "$UNIT_TIMEOUT" "$bin" --tap="$tap" -S \
		</dev/null >"$log" 2>&1 || rc=$?
	synth=$(grep -a 'Synthesis: Tested:' "$log" | tail -n 1 || true)
	if [[ $synth =~ Tested:\ ([0-9]+)\ \|\ Passing:\ ([0-9]+)\ \|\ Failing:\ ([0-9]+)\ \|\ Crashing:\ ([0-9]+) ]]; then
		p=${BASH_REMATCH[2]} f=${BASH_REMATCH[3]}
	else
		p=0 f=0
	fi
	s=0
	# one line per case, from the TAP report
	if [[ -s $tap ]]; then
		while IFS= read -r line; do
			case $line in
			"not ok "*)
				case_name=${line#not ok - }
				echo "FAIL $name ${case_name%%  (*}"
				;;
			"ok "*"# SKIP"*)
				case_name=${line#ok - }
				echo "SKIP $name ${case_name%%  #*} [${line##*# SKIP }]"
				s=$((s + 1))
				;;
			"ok "*)
				case_name=${line#ok - }
				echo "PASS $name ${case_name%%  (*}"
				;;
			esac
		done <"$tap"
	fi
	if [[ -z $synth ]]; then
		# crashed before Criterion could report (sanitizer, timeout, ...)
		f=$((f + 1))
		echo "FAIL $name (exit $rc, no Criterion summary$([[ $rc == 124 ]] && echo ": timed out after ${UNIT_TIMEOUT}s"))"
	elif ((rc != 0 && f == 0)); then
		# every case passed, but the binary failed (e.g. a leak at exit)
		f=1
		echo "FAIL $name (exit $rc after all cases passed)"
	elif ((f == 0)) && grep -aqE 'ERROR: (Leak|Address)Sanitizer|runtime error:' "$log"; then
		# Criterion runs cases in children whose sanitizer reports do not
		# fail the case: a report anywhere in the output fails the binary
		f=1
		echo "FAIL $name (sanitizer report in the output)"
	fi
	passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
	if ((f > 0)); then
		failures+=("$name")
		show_tail "$log"
	fi
done

# --- integration tests ----------------------------------------------------------
# shellcheck disable=SC2206
its=(tests/integration/$IT_GLOB.sh)
if ((${#its[@]} == 0)); then
	echo "note: no integration tests in tests/integration"
fi
for t in "${its[@]}"; do
	name=integration/$(basename "$t" .sh)
	log=$LOGS/$(basename "$t" .sh).log
	rc=0
	start=$SECONDS
	SLUICE_BUILD=$BUILD timeout -k 30 "$IT_TIMEOUT" bash "$t" </dev/null >"$log" 2>&1 || rc=$?
	took=$((SECONDS - start))
	case $rc in
	0)
		echo "PASS $name (${took}s)"
		passed=$((passed + 1))
		;;
	77)
		reason=$(grep -a '^SKIP: ' "$log" | tail -n 1 | sed 's/^SKIP: //' || true)
		echo "SKIP $name [${reason:-no reason given}]"
		skipped=$((skipped + 1))
		;;
	*)
		if ((rc == 124)); then
			echo "FAIL $name (timed out after ${IT_TIMEOUT}s)"
		else
			echo "FAIL $name (exit $rc, ${took}s)"
		fi
		failed=$((failed + 1))
		failures+=("$name")
		show_tail "$log"
		;;
	esac
done

# --- nothing left behind ------------------------------------------------------
# Every test removes what it attached and pinned; check, then clean up anyway
# as a safety net. A sluiced still running is not one of ours (each test stops
# its own), so its pins are left alone.
pin_dir=/sys/fs/bpf/sluice
others=
for pid in $(pgrep -x sluiced || true); do
	# only a daemon that shares our /sys/fs/bpf shares our pins
	[[ $(readlink "/proc/$pid/ns/mnt" 2>/dev/null) == "$(readlink /proc/self/ns/mnt)" ]] &&
		others+="$pid "
done
if [[ -n $others ]]; then
	echo "note: another sluiced is running (pid $others): not checking or removing $pin_dir"
elif [[ ${EUID:-$(id -u)} -eq 0 ]]; then
	if [[ -d $pin_dir ]] && [[ -n $(ls -A "$pin_dir" 2>/dev/null) ]]; then
		echo "FAIL leftovers: the tests left pins behind in $pin_dir: $(ls -A "$pin_dir" | tr '\n' ' ')"
		failed=$((failed + 1))
		failures+=("leftovers")
	fi
	if [[ -x $BUILD/sluiced ]]; then
		"$BUILD"/sluiced --uninstall >"$LOGS/uninstall.log" 2>&1 ||
			echo "note: $BUILD/sluiced --uninstall failed (see $LOGS/uninstall.log)"
	fi
fi

if ((${#failures[@]})); then
	echo "failed: ${failures[*]} (logs in $LOGS)"
fi
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
