#!/usr/bin/env bash
# The README's main job on the embedded default: generate the demo OCI layout, index it with turbo-index, show and verify the index.
# Usage: bash scripts/demo.sh [layout-dir]   (default: a fresh temporary directory)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d node_modules ]; then
  bash scripts/setup-system.sh
  npm ci --no-audit --no-fund
fi
npm run build --silent
dir="${1:-$(mktemp -d)/demo}"
npx tsx fixtures/demo/generate.ts "$dir" >/dev/null
echo "demo image: oci:$dir:latest"
echo "index digest: $(node dist/src/cli/main.js build "oci:$dir:latest" --no-cache)"
node dist/src/cli/main.js inspect "oci:$dir:latest"
node dist/src/cli/main.js verify "oci:$dir:latest"
