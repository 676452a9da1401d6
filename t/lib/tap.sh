# Small TAP helpers for shell tests (TAP version 12, read by automake's
# tap-driver.sh).  Source this file; call plan or done_testing.

_tap_n=0
_tap_failed=0

plan() { echo "1..$1"; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }
diag() { printf '# %s\n' "$*" | sed '2,$s/^/# /'; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
bail_out() { echo "Bail out! $*"; exit 1; }

ok() {	# ok CONDITION-EXIT-STATUS DESCRIPTION
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

pass() { ok 0 "$1"; }
fail() { ok 1 "$1"; }

is() {	# is GOT EXPECTED DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:      '$1'"
		diag "expected: '$2'"
	fi
}

like() {	# like GOT EXTENDED-REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		diag "got:         '$1'"
		diag "should match: $2"
	fi
}

unlike() {	# unlike GOT EXTENDED-REGEX DESCRIPTION
	if printf '%s' "$1" | grep -Eq -- "$2"; then
		ok 1 "$3"
		diag "got:             '$1'"
		diag "should not match: $2"
	else
		ok 0 "$3"
	fi
}
