#!/usr/bin/env bash
# Runs every benchmark against the local stack; each writes its own section of
# BENCHMARKS.md with the figures of this run and its same-run baseline.
# Not part of the test command: figures are measurements, not assertions.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/stack.sh up
pnpm exec tsc -b
node bench/gateway/run.js 10
node bench/identity/run.js 40000
EVENTS=100000 bench/usage/run.sh
node bench/usage/resolve.js
node bench/usage/queries.js
node bench/usage/aliases.js
STORED="${STORED:-1000000}" bench/reprocess/run.sh
