#!/usr/bin/env bash
# Usage benchmark: builds the service and this script, then runs it against the
# local stack (scripts/stack.sh up). EVENTS=200000 bench/usage/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
pnpm exec tsc -b services/usage
pnpm exec tsc -p bench/usage
# The compiled bench requires @kana/* and the drivers the way the service does.
NODE_PATH=services/usage/node_modules:packages/platform/node_modules KAFKAJS_NO_PARTITIONER_WARNING=1 node bench/usage/dist/bench.js "$@"
