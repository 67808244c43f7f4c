#!/usr/bin/env bash
# Reprocess benchmark: builds rules, usage and this script, then runs it against
# the local stack (scripts/stack.sh up). STORED=1000000 LIVE=200000 bench/reprocess/run.sh
# RUNS: runs one after the other (default 3); BENCHMARKS.md gets the median run and a row for each.
# BENCH_NODE_ARGS: node flags for the bench process, which runs the rules service (e.g. --cpu-prof).
set -euo pipefail
cd "$(dirname "$0")/../.."
pnpm exec tsc -b services/rules services/usage
pnpm exec tsc -p bench/reprocess
NODE_PATH=services/rules/node_modules:services/usage/node_modules:packages/platform/node_modules KAFKAJS_NO_PARTITIONER_WARNING=1 node ${BENCH_NODE_ARGS:-} bench/reprocess/dist/bench.js "$@"
