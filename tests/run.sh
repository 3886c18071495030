#!/usr/bin/env bash
# The project's test command: installs what the tests need (pinned, inside the checkout), then
# runs every check. Safe to run on a fresh machine and again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
# One build for every test binary; --workspace keeps feature resolution identical across runs.
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
