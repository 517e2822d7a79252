#!/usr/bin/env bash
# Lone passes: each contender of one benchmark runs alone, in a process and `CRITERION_HOME` of
# its own, round after round, with the order rotated every round so that no contender is
# always first or last. A contender may be named twice: two copies of the same code show the
# spread between passes that is noise, against which a lead has to be read.
#
#   benches/passes.sh BENCH ID ROUNDS CONTENDER...
#   BIN=path/to/binary benches/passes.sh ...   # a bench binary built elsewhere
#
# ID is the benchmark's id with `{}` where the contender's name goes, e.g.
#   benches/passes.sh event 'event/fan-out-10000/{}/2' 100 tokio-notify unisync tokio-notify
# Prints each round's medians (criterion's `estimates.json`, in ms), then each contender
# against the first: passes ahead, the geometric mean of the ratios, their range, and how many
# disjoint sets of five consecutive rounds had it ahead in at least four.
set -euo pipefail
if (($# < 4)); then
    sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0" >&2
    exit 2
fi
bin=${BIN:+$(realpath "$BIN")}
cd "$(dirname "$0")/.."
bench=$1 id=$2 rounds=$3
shift 3
[[ $rounds =~ ^[1-9][0-9]*$ ]] || {
    echo "ROUNDS must be a whole number of rounds, 1 or more; got '$rounds'" >&2
    exit 2
}
names=("$@")
n=${#names[@]}

if [[ -z $bin ]]; then
    bin=$(cargo bench --bench "$bench" --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1) || true
fi
[[ -x $bin ]] || {
    echo "no bench binary for '$bench' (build it with cargo bench --bench $bench --no-run)" >&2
    exit 1
}
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT

# median NAME: the median point estimate, in ms, of the one benchmark under $home/runs.
median() {
    local file
    file=$(find "$home/runs" -path '*/new/estimates.json' 2>/dev/null | head -n 1)
    [[ -n $file ]] || {
        echo "no estimate for $1: does '${id//\{\}/$1}' name a benchmark of $bench?" >&2
        exit 1
    }
    sed 's/.*"median":{"confidence_interval":{[^}]*},"point_estimate":\([^,]*\),.*/\1/' "$file" |
        awk '{ printf "%.4f", $1 / 1e6 }'
}

for ((r = 1; r <= rounds; r++)); do
    declare -a got=()
    for ((k = 0; k < n; k++)); do
        i=$(((r + k) % n))
        rm -rf "${home:?}/runs"
        CRITERION_HOME=$home/runs "$bin" --bench --noplot "^${id//\{\}/${names[i]}}\$" >/dev/null 2>&1
        got[i]=$(median "${names[i]}")
    done
    line="$r"
    for ((i = 0; i < n; i++)); do
        line+=" $((i + 1)):${names[i]}=${got[i]}"
    done
    echo "$line" | tee -a "$home/rounds"
done
awk -v n="$n" '
    {
        for (i = 2; i <= NF; i++) {
            split($i, kv, "=")
            name[i - 1] = kv[1]
            t[NR, i - 1] = kv[2]
        }
    }
    END {
        for (i = 2; i <= n; i++) {
            ahead = 0; logs = 0; lo = 1e9; hi = 0; sets = 0; won = 0; inset = 0
            for (r = 1; r <= NR; r++) {
                q = t[r, i] / t[r, 1]
                logs += log(q)
                if (q < lo) lo = q
                if (q > hi) hi = q
                if (q < 1) { ahead++; inset++ }
                if (r % 5 == 0) { sets++; if (inset >= 4) won++; inset = 0 }
            }
            printf "%s / %s: ahead in %d of %d, geometric mean %.3f, range %.2f-%.2f, ", \
                name[i], name[1], ahead, NR, exp(logs / NR), lo, hi
            printf "ahead in 4 or 5 of 5 in %d of %d sets\n", won, sets
        }
    }' "$home/rounds"
