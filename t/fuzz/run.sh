#!/bin/sh
# Run one libFuzzer harness built by `make fuzz` or `make fuzz-regress`
# (see t/fuzz/README.md).
#
#   run.sh regress BINDIR SRCDIR WORKDIR NAME
#	run every seed in SRCDIR/corpus/NAME through BINDIR/fuzz-NAME once
#   run.sh fuzz BINDIR SRCDIR WORKDIR NAME SECONDS
#	fuzz for SECONDS on a copy of the seeds in WORKDIR/NAME/corpus, so
#	that new inputs never land in the source tree; crash inputs go to
#	WORKDIR/NAME/
#
# Exits non-zero if the harness crashed, leaked or timed out.
set -eu

mode=$1 bindir=$2 srcdir=$3 workdir=$4 name=$5
bin=$bindir/fuzz-$name
seeds=$srcdir/corpus/$name
log=$workdir/$name.log
dict=
[ -f "$srcdir/$name.dict" ] && dict=-dict=$srcdir/$name.dict

mkdir -p "$workdir/$name"
case $mode in
regress)
	# With file arguments libFuzzer runs each once and does not mutate.
	if find "$seeds" -type f -print | sort | xargs "$bin" >"$log" 2>&1; then
		echo "fuzz-$name: $(find "$seeds" -type f | wc -l | tr -d ' ') seeds ok"
		exit 0
	fi
	;;
fuzz)
	secs=$6
	rm -rf "$workdir/$name/corpus"
	cp -R "$seeds" "$workdir/$name/corpus"
	chmod -R u+w "$workdir/$name/corpus"
	# -timeout: one input taking 10 s is a hang; 2 GiB bounds memory.
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$workdir/$name/" $dict \
	    "$workdir/$name/corpus" >"$log" 2>&1; then
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz-$name: ${runs:-?} runs in ${secs}s, corpus" \
		    "$(find "$seeds" -type f | wc -l | tr -d ' ') ->" \
		    "$(find "$workdir/$name/corpus" -type f | wc -l | tr -d ' ')" \
		    "inputs, no crash"
		exit 0
	fi
	;;
*)
	echo "usage: run.sh regress|fuzz BINDIR SRCDIR WORKDIR NAME [SECONDS]" >&2
	exit 2
	;;
esac
echo "fuzz-$name: FAILED; the end of $log:" >&2
tail -n 40 "$log" >&2
ls "$workdir/$name"/crash-* "$workdir/$name"/leak-* \
    "$workdir/$name"/timeout-* "$workdir/$name"/oom-* 2>/dev/null >&2 || true
exit 1
