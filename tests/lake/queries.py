"""The README's security questions, asked with DuckDB of the lake's Parquet data files or of the
NDJSON.gz archive, printed as one JSON document: each question's answer rows, its time, and the
bytes it had to read (over the lake: the compressed column chunks of the columns it names, as
Parquet's metadata gives them; over the archive: every object, whole).

Usage: queries.py lake WAREHOUSE_DIR | archive ARCHIVE_DIR
"""

import glob
import json
import os
import re
import sys
import time

import duckdb

# Each question over `events`: a view of the lake's data files or of the archive's lines.
QUESTIONS = {
    # CIS 4.3 / CloudWatch.1: the root user's activity.
    "root_activity": """
        SELECT account_id, service, action, count(*) AS events
        FROM events WHERE principal.type = 'Root'
        GROUP BY ALL ORDER BY ALL""",
    # CIS 4.2 / CloudWatch.3: console sign-ins without MFA.
    "console_sign_ins_without_mfa": """
        SELECT account_id, principal.name AS name, count(*) AS sign_ins
        FROM events WHERE action = 'ConsoleLogin' AND principal.mfa IS NOT TRUE
        GROUP BY ALL ORDER BY ALL""",
    # CIS 4.1 / CloudWatch.2: unauthorised API calls.
    "unauthorised_calls": """
        SELECT account_id, service, count(*) AS calls
        FROM events
        WHERE error_code LIKE '%UnauthorizedOperation' OR error_code LIKE 'AccessDenied%'
        GROUP BY ALL ORDER BY ALL""",
    # CIS 4.4 / CloudWatch.4: IAM policy changes.
    "iam_policy_changes": """
        SELECT account_id, action, count(*) AS changes
        FROM events
        WHERE service = 'iam.amazonaws.com' AND regexp_matches(action,
          '^(Delete|Put)(Group|Role|User)Policy$|^(Create|Delete)Policy(Version)?$|^(Attach|Detach)(Group|Role|User)Policy$')
        GROUP BY ALL ORDER BY ALL""",
    # CIS 4.5 / CloudWatch.5: CloudTrail configuration changes.
    "trail_changes": """
        SELECT account_id, region, action, count(*) AS changes
        FROM events
        WHERE action IN ('CreateTrail', 'UpdateTrail', 'DeleteTrail', 'StartLogging', 'StopLogging')
        GROUP BY ALL ORDER BY ALL""",
    # Who did the most, per account: the first question of most investigations.
    "busiest_principals": """
        SELECT account_id, principal.arn AS arn, count(*) AS events
        FROM events WHERE principal.arn IS NOT NULL
        GROUP BY ALL ORDER BY events DESC, account_id, arn LIMIT 20""",
    "events_by_account_and_region": """
        SELECT account_id, region, count(*) AS events FROM events GROUP BY ALL ORDER BY ALL""",
}

# The archive's lines, with only the columns the questions read typed.
ARCHIVE_COLUMNS = {
    "account_id": "VARCHAR",
    "region": "VARCHAR",
    "service": "VARCHAR",
    "action": "VARCHAR",
    "error_code": "VARCHAR",
    "principal": "STRUCT(type VARCHAR, arn VARCHAR, name VARCHAR, mfa BOOLEAN)",
}


def column_bytes(db, folder: str) -> dict:
    """Compressed bytes of each top-level column over every data file."""
    rows = db.execute(
        f"SELECT path_in_schema, sum(total_compressed_size) FROM "
        f"parquet_metadata('{folder}/**/*.parquet') GROUP BY ALL"
    ).fetchall()
    sizes: dict = {}
    for path, size in rows:
        top = path.split(",")[0].strip()
        sizes[top] = sizes.get(top, 0) + int(size)
    return sizes


def main() -> None:
    kind, folder = sys.argv[1], sys.argv[2]
    db = duckdb.connect()
    if kind == "lake":
        db.execute(
            f"CREATE VIEW events AS SELECT * FROM read_parquet('{folder}/**/*.parquet')"
        )
    else:
        columns = ", ".join(f"'{k}': '{v}'" for k, v in ARCHIVE_COLUMNS.items())
        db.execute(
            f"CREATE VIEW events AS SELECT * FROM read_json('{folder}/**/*.ndjson.gz', "
            f"format = 'newline_delimited', columns = {{{columns}}})"
        )
    if kind == "lake":
        sizes = column_bytes(db, folder)
    else:
        whole = sum(
            os.path.getsize(p)
            for p in glob.glob(f"{folder}/**/*.ndjson.gz", recursive=True)
        )
    answers = {}
    for name, sql in QUESTIONS.items():
        started = time.perf_counter()
        rows = db.execute(sql).fetchall()
        seconds = time.perf_counter() - started
        if kind == "lake":
            read = sum(n for c, n in sizes.items() if re.search(rf"\b{c}\b", sql))
        else:
            read = whole
        answers[name] = {
            "rows": [list(r) for r in rows],
            "seconds": seconds,
            "bytes_read": read,
        }
    print(json.dumps(answers, default=str))


if __name__ == "__main__":
    main()
