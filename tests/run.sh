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
pinned_venv .venv-lake "$LAKE_TOOLS"
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

step "fuzz"
# Every parser of untrusted input (keys and stamps, notifications and continuations, digests,
# records, filter patterns) for 60 s each. cargo fuzz needs a nightly toolchain: where there is
# none, the step says so and CI goes on with the stable checks above.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  if [ ! -x .tools/cargo-fuzz/bin/cargo-fuzz ]; then
    cargo install cargo-fuzz --version 0.13.2 --locked --root .tools/cargo-fuzz
  fi
  export PATH="$PWD/.tools/cargo-fuzz/bin:$PATH"
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  (
    cd shared/fuzz
    cargo +nightly fuzz build
    for target in $(cargo +nightly fuzz list); do
      # New inputs go to a scratch folder; the committed seeds are read, never written.
      seeds=()
      [ -d "corpus/$target" ] && seeds=("corpus/$target")
      mkdir -p "$corpus/$target"
      echo "fuzz $target: 60 s"
      log="$corpus/$target.log"
      if ! cargo +nightly fuzz run "$target" "$corpus/$target" "${seeds[@]}" -- \
        -max_total_time=60 >"$log" 2>&1; then
        tail -n 80 "$log"
        echo "fuzz $target failed: the input is in shared/fuzz/artifacts/$target/"
        exit 1
      fi
      tail -n 1 "$log"
    done
  )
else
  echo "skipped: no nightly toolchain on this machine (rustup toolchain list); cargo fuzz needs one"
fi
