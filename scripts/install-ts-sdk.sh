#!/bin/sh
# Install the TypeScript Hyperliquid SDK and the tools of its interop test into a cache
# directory (never the repository): @nktkas/hyperliquid (the client under test), viem (its
# wallet), ts-json-schema-generator (turns the SDK's published response types into strict JSON
# schemas) and ajv (validates every response against them).
#
# Usage: scripts/install-ts-sdk.sh [DIR]   (default: ${HLMAKER_CACHE:-~/.cache/hlmaker}/ts-sdk)
# Prints the directory on its last line. Idempotent: a finished install is reused.
set -eu
DIR="${1:-${HLMAKER_CACHE:-$HOME/.cache/hlmaker}/ts-sdk}"
PKGS="@nktkas/hyperliquid@0.33.3 viem@2.57.20 ts-json-schema-generator@2.10.0 ajv@8.20.0"
STAMP="$DIR/.installed"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$PKGS" ]; then
    echo "$DIR"
    exit 0
fi
command -v npm >/dev/null 2>&1 || { echo "npm not found" >&2; exit 2; }
mkdir -p "$DIR"
[ -f "$DIR/package.json" ] || echo '{"private": true, "type": "module"}' > "$DIR/package.json"
# shellcheck disable=SC2086
npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error --engine-strict=false $PKGS >&2
echo "$PKGS" > "$STAMP"
echo "$DIR"
