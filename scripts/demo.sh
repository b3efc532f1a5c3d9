#!/usr/bin/env bash
# `npm run demo`: the demo shop (examples/shop) with the runtime, collector, UI and load, in the
# background; `npx meshlet down` stops it. Installs the Debian packages the runtime needs first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh demo
exec node examples/shop/demo.ts "$@"
