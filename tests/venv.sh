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

# moto 5.2.5 writes S3 event times in UTC ("...Z"), as S3 does. cfn-lint 1.51 still runs the
# SAM translator, so it checks the serverless resources' properties; later releases let typos
# there through.
TEST_TOOLS="moto[server]==5.2.5 cfn-lint==1.51.0"
# The lake's independent readers: PyIceberg through the lake's SQLite or Glue catalog, DuckDB
# over its Parquet files.
# boto3, botocore and aiobotocore pinned together: left to pip, a fresh environment finds no
# set of them that both the glue and the s3fs extras accept.
LAKE_TOOLS="pyiceberg[sql-sqlite,pyarrow,glue,s3fs]==0.12.0 duckdb==2.0.1 boto3==1.43.117 botocore==1.43.117 aiobotocore==3.10.0 s3fs==2026.9.0 fsspec==2026.9.0"
# cargo-lambda builds through zig, which the ziglang package carries.
LAMBDA_TOOLS="cargo-lambda==1.9.2 ziglang==0.17.1"
# SAM CLI and checkov pin their own botocore and friends: each gets its own environment.
SAM_CLI="aws-sam-cli==1.170.0"
export SAM_CLI_TELEMETRY=0
