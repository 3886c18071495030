"""Reads a local lake as its users would, through PyIceberg and the lake's SQLite catalog, and
prints what the table holds as one JSON document: its snapshots' summaries, the data files the
current snapshot references, and every row (time in epoch milliseconds).

Usage: oracle.py LAKE_DIR
"""

import json
import sys
from datetime import timezone

from pyiceberg.catalog.sql import SqlCatalog


def main() -> None:
    lake = sys.argv[1]
    catalog = SqlCatalog(
        "trailrelay",
        uri=f"sqlite:///{lake}/catalog.db",
        warehouse=f"file://{lake}/warehouse",
    )
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
