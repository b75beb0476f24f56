#!/usr/bin/env bash
# The README's main job on the embedded default: generate the demo OCI layout, index it with turbo-index, show and verify the index, then read files from it lazily.
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
# Read lazily through the backstore: only the spans these reads touch are fetched, each checked against its sha256.
echo "ls /etc:"
node dist/src/cli/main.js ls "oci:$dir:latest" /etc
echo "cat /etc/os-release:"
node dist/src/cli/main.js cat "oci:$dir:latest" /etc/os-release
