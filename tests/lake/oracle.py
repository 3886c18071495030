"""Reads a local lake as its users would, through PyIceberg and the lake's SQLite catalog, and
prints what the table holds as one JSON document: its snapshots' summaries, the data files the
current snapshot references, and every row (time in epoch milliseconds).

Usage: oracle.py LAKE_DIR
       oracle.py --glue ENDPOINT   (the Glue catalog and S3 at ENDPOINT: a local emulator)
"""

import json
import sys
from datetime import timezone

from pyiceberg.catalog.sql import SqlCatalog


def open_catalog():
    if sys.argv[1] == "--glue":
        from pyiceberg.catalog.glue import GlueCatalog

        endpoint = sys.argv[2]
        return GlueCatalog(
            "trailrelay",
            **{
                "glue.endpoint": endpoint,
                "glue.region": "us-east-1",
                "glue.access-key-id": "test",
                "glue.secret-access-key": "test",
                "s3.endpoint": endpoint,
                "s3.region": "us-east-1",
                "s3.access-key-id": "test",
                "s3.secret-access-key": "test",
            },
        )
    lake = sys.argv[1]
    return SqlCatalog(
        "trailrelay",
        uri=f"sqlite:///{lake}/catalog.db",
        warehouse=f"file://{lake}/warehouse",
    )


def main() -> None:
    catalog = open_catalog()
    table = catalog.load_table("trailrelay.cloudtrail")
    snapshots = [
        json.loads(s.model_dump_json())["summary"] for s in table.metadata.snapshots
    ]
    scan = table.scan()
    data_files = sorted(task.file.file_path for task in scan.plan_files())
    rows = scan.to_arrow().to_pylist()
    for row in rows:
        # `time` is an Iceberg timestamp without a zone, UTC by the table's convention.
        if row["time"] is not None:
            row["time"] = round(row["time"].replace(tzinfo=timezone.utc).timestamp() * 1000)
    partition = [f.name for f in table.spec().fields]
    print(
        json.dumps(
            {
                "snapshots": snapshots,
                "data_files": data_files,
                "partition": partition,
                "columns": [f.name for f in table.schema().fields],
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
