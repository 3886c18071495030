#!/usr/bin/env bash
# Installs what `cargo lambda watch` against a local emulator needs, pinned, inside the
# checkout: moto server (.venv, as the tests use it) and cargo-lambda with zig (.venv-lambda,
# as infra/build.sh uses it). Then prints how to put them on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=tests/venv.sh
. tests/venv.sh
pinned_venv .venv "$TEST_TOOLS"
pinned_venv .venv-lambda "$LAMBDA_TOOLS"
echo "ready: export PATH=\"$PWD/.venv-lambda/bin:\$PATH\"  (cargo lambda), .venv/bin/moto_server"
