#!/usr/bin/env bash
# The README's test command: sets up a fresh Debian machine (system packages, npm ci with the native addon) and runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-system.sh
npm ci --no-audit --no-fund
npm test
