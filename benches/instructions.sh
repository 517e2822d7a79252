#!/usr/bin/env bash
# Instructions per operation of every pair in benches/instructions.rs, counted by callgrind
# over the `measured` part only. Needs valgrind.
#
#   benches/instructions.sh              # build, then count every pair
#   benches/instructions.sh BINARY       # count with an instructions binary built elsewhere
#   benches/instructions.sh BINARY unisync   # only the pairs whose contender is `unisync`
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-}
only=${2:-}
if [[ -z $bin ]]; then
    bin=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
        sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

printf '%-19s %-18s %12s %10s\n' workload contender instructions 'per op'
# `instructions` with no arguments prints every pair it knows, one per line, as it runs it.
"$bin" | sed -n 's/^\([^/]*\)\/\([^:]*\): \([0-9]*\) operations$/\1 \2 \3/p' |
    while read -r workload contender ops; do
        if [[ -n $only && $contender != "$only" ]]; then
            continue
        fi
        ir=$(valgrind --tool=callgrind --callgrind-out-file="$out/cg" \
            --toggle-collect='instructions::measured' "$bin" "$workload" "$contender" 2>&1 |
            sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
        printf '%-19s %-18s %12s %10s\n' "$workload" "$contender" "$ir" $((ir / ops))
    done
