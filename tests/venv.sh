# Sourced by tests/run.sh and infra/build.sh: pinned Python tools, each set in its own
# virtualenv inside the checkout, so nothing installed by hand is needed and nothing outside
# the checkout changes.

# pinned_venv DIR "REQUIREMENT..." : creates DIR with exactly these requirements, or keeps it
# when it already has them (a stamp file records what was installed, so a changed pin rebuilds).
pinned_venv() {
  local venv=$1 specs=$2
  if [ "$(cat "$venv/.pinned" 2>/dev/null)" != "$specs" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    # shellcheck disable=SC2086 # one argument per requirement
    "$venv/bin/pip" install --quiet --disable-pip-version-check $specs
    printf '%s' "$specs" > "$venv/.pinned"
  fi
  echo "$venv: $specs"
}

# SAM CLI and checkov pin their own botocore and friends: each gets its own environment.
SAM_CLI="aws-sam-cli==1.170.0"
export SAM_CLI_TELEMETRY=0
