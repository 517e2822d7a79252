#!/usr/bin/env bash
# Runs the contended groups at 4, 8 and 16 workers, the points a machine with fewer cores
# skips, from bench binaries built beforehand (a machine with the cores need not build).
#
#   BINS=DIR [OLD_BINS=DIR] [OUT=DIR] [BUDGET=SECONDS] benches/workers.sh
#
# BINS holds this build's bench binaries, each named after its bench (`mutex`, `event`, ...):
# copies of the executables that `cargo bench --no-run` reports. OLD_BINS, if given, holds
# another build's (an older commit), of which only the `unisync` rows run. Passes:
#   new-1: every contended group, every contender, from BINS;
#   old: the same groups' `unisync` rows from OLD_BINS;
#   new-2 to new-5: the contended mutex and event fan-out groups again, from BINS, since
#     their targets are read across five runs; each only while BUDGET seconds allow it.
# Each pass writes its criterion estimates to OUT/<pass>.tar.gz and its output to OUT/log.
# The criterion settings are shorter than `cargo bench`'s, so that the passes fit a short
# lease; set CRITERION_ARGS to change them, and WORKERS_RE (a regex) for other worker counts.
set -euo pipefail

BINS=${BINS:?BINS must name the folder of bench binaries}
OLD_BINS=${OLD_BINS:-}
OUT=${OUT:-target/workers}
BUDGET=${BUDGET:-480}
CRITERION_ARGS=${CRITERION_ARGS:---warm-up-time 0.2 --measurement-time 0.6 --sample-size 10 --noplot}

GROUPS_RE='mutex/contended|semaphore/(contended|mixed)|rwlock/(read|write)-heavy|event/fan-out|barrier/rounds|condvar/(ping-pong|notify-all)|shutdown/(fan_out|drain|child_trigger)'
WORKERS_RE=${WORKERS_RE:-(4|8|16)}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
started=$SECONDS
log="$OUT/log"

say() { echo "$*" | tee -a "$log"; }

# pass NAME DIR FILTER BENCH...: runs each BENCH binary of DIR that exists with FILTER, in a
# fresh CRITERION_HOME, and packs the estimates.
pass() {
    local name=$1 dir=$2 filter=$3 home bench
    shift 3
    home=$(mktemp -d)
    say "== pass $name ($((SECONDS - started)) s in)"
    for bench in "$@"; do
        [ -x "$dir/$bench" ] || continue
        # shellcheck disable=SC2086 # CRITERION_ARGS is a list of flags
        CRITERION_HOME=$home "$dir/$bench" --bench $CRITERION_ARGS "$filter" 2>&1 |
            grep -E '^[a-z_-]+/|time:|skipped|panic|error' >>"$log" ||
            say "$bench: exited non-zero or printed nothing"
    done
    # shellcheck disable=SC2046 # criterion's folder names hold no spaces
    tar -czf "$OUT/$name.tar.gz" -C "$home" \
        $(cd "$home" && find . -path '*/new/*' \( -name estimates.json -o -name benchmark.json \))
    rm -rf "$home"
}

say "machine: $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
say "kernel: $(uname -r)"

all="^($GROUPS_RE)[^/]*/[^/]+/$WORKERS_RE\$"
pass new-1 "$BINS" "$all" mutex event semaphore rwlock barrier condvar shutdown
if [ -n "$OLD_BINS" ]; then
    pass old "$OLD_BINS" "^($GROUPS_RE)[^/]*/unisync/$WORKERS_RE\$" \
        mutex event semaphore rwlock barrier
fi
again="^(mutex/contended|event/fan-out)[^/]*/[^/]+/$WORKERS_RE\$"
# The two groups are 45 of the first pass's 200 or so rows: guess a quarter of its time for
# the first repeat, then use the last repeat's.
took=$(((SECONDS - started) / 4))
for run in 2 3 4 5; do
    if ((SECONDS - started + took > BUDGET)); then
        say "budget of ${BUDGET} s: no time for run $run"
        break
    fi
    at=$SECONDS
    pass "new-$run" "$BINS" "$again" mutex event
    took=$((SECONDS - at))
done
say "done in $((SECONDS - started)) s"
