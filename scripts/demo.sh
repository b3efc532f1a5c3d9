#!/usr/bin/env bash
# `npm run demo`: brings up the demo shop (examples/shop) with the runtime, collector, UI and load.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f examples/shop/mesh.yaml ] || [ ! -f runtime/src/main.ts ]; then
  echo "demo: not available yet: needs examples/shop/mesh.yaml and the runtime (runtime/src/main.ts)." >&2
  echo "demo: what exists today: the wire/ contracts and the test suite (npm test)." >&2
  exit 1
fi
bash scripts/deps.sh demo
exec node bin/meshlet.js demo "$@"
