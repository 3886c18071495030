#!/usr/bin/env bash
# Builds the Lambda release artefacts: each function's `bootstrap` with cargo-lambda, then the
# deployable template with `sam build` (.aws-sam/build/). Installs its pinned tools into the
# checkout (.venv-lambda: cargo-lambda and zig; .venv-sam: SAM CLI) on first use.
#
#   infra/build.sh            # arm64, the template's default
#   infra/build.sh x86_64     # then deploy with --parameter-overrides Architecture=x86_64
set -euo pipefail
cd "$(dirname "$0")/.."

arch=${1:-arm64}
case "$arch" in
  arm64) machine=183 flag=--arm64 ;;  # ELF e_machine: EM_AARCH64
  x86_64) machine=62 flag=--x86-64 ;; # EM_X86_64
  *) echo "usage: infra/build.sh [arm64|x86_64]" >&2; exit 2 ;;
esac

# shellcheck source=tests/venv.sh
. tests/venv.sh
pinned_venv .venv-lambda "$LAMBDA_TOOLS"
pinned_venv .venv-sam "$SAM_CLI"
# cargo-lambda finds zig through the ziglang package's `python -m ziglang`, on PATH here.
export PATH="$PWD/.venv-lambda/bin:$PATH"

# The Lambda functions: the binary of every package under functions/, named as sam build
# names them (--bin), so that its own cargo-lambda run finds the same build fresh.
binaries=()
for manifest in functions/*/Cargo.toml; do
  binaries+=(--bin "$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)")
done

echo "== cargo lambda build --release $flag ${binaries[*]}"
# Its own output folder: both architectures would otherwise write target/lambda/<bin>/.
cargo lambda build --release "$flag" --lambda-dir "target/lambda-$arch" "${binaries[@]}"

echo "== sam build ($arch)"
# SAM runs cargo-lambda again for each function of the template (cached by cargo: seconds).
.venv-sam/bin/sam build --config-file infra/samconfig.toml --parameter-overrides "Architecture=$arch"

echo "== artefacts"
# Every bootstrap must be an ELF executable for the chosen machine.
python3 - "$machine" target/lambda-"$arch"/*/bootstrap .aws-sam/build/*/bootstrap <<'PY'
import struct, sys
want, paths, bad = int(sys.argv[1]), sys.argv[2:], 0
for path in paths:
    with open(path, "rb") as f:
        head = f.read(20)
    machine = struct.unpack_from("<H", head, 18)[0] if head[:4] == b"\x7fELF" else None
    ok = machine == want
    bad += not ok
    print(f"{path}: {'ok' if ok else 'WRONG'} (e_machine {machine}, want {want})")
sys.exit(1 if bad else 0)
PY
