#!/usr/bin/env bash
# The project's test command: installs what the tests need (pinned, inside the checkout), then
# runs every check. Safe to run on a fresh machine and again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# Pinned tools. moto 5.2.5 writes S3 event times in UTC ("...Z"), as S3 does.
MOTO_VERSION=5.2.5

step "tools"
if [ ! -x .venv/bin/moto_server ] || ! .venv/bin/pip show moto 2>/dev/null | grep -qx "Version: $MOTO_VERSION"; then
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
.venv/bin/pip show moto | grep '^Version'

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
# One build for every test binary; --workspace keeps feature resolution identical across runs.
# The integration tests start moto_server from .venv on a free loopback port themselves.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
