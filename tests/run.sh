#!/usr/bin/env bash
# The project's test command: installs what the tests need (pinned, inside the checkout), then
# runs every check. Safe to run on a fresh machine and again and again.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

# shellcheck source=tests/venv.sh
. tests/venv.sh

step "tools"
pinned_venv .venv "$TEST_TOOLS"
pinned_venv .venv-sam "$SAM_CLI"
pinned_venv .venv-checkov "checkov==3.3.30"

step "template"
# infra/template.yaml: CloudFormation lint (with the SAM translator), SAM's own validation and
# lint, and a security scan whose every skipped check carries its reason in the template.
.venv/bin/cfn-lint infra/template.yaml
.venv-sam/bin/sam validate --region us-east-1 -t infra/template.yaml
.venv-sam/bin/sam validate --lint --region us-east-1 -t infra/template.yaml
.venv-checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation -f infra/template.yaml

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
