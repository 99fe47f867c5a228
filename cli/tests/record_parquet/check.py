#!/usr/bin/env python3
"""Reads what `tickwire record` wrote with pyarrow, an independent reader.

Installs pyarrow 26 from PyPI into a virtualenv the first time (reused
after), then reads every `*.parquet` file of the folder given and prints one
JSON object on stdout:

    {"files": {"quotes-2026-12-06.parquet": {"rows": 812, "types": {"timestamp": "timestamp[ns, tz=UTC]", ...},
               "monotonic_per_symbol": true, "symbols": ["AAPL", "SPY"]}, ...}}

`cli/tests/record_parquet.rs` runs it and checks the figures against the
stream's own count. Environment: PYARROW_VENV (the virtualenv directory,
required). Exits non-zero with a message naming what to install when
Python's venv module, pip or pyarrow is missing.
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "tests", "python"))
from script_support import ensure_venv, failer  # noqa: E402

fail = failer("pyarrow check")


def describe(path):
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    types = {field.name: str(field.type) for field in table.schema}
    monotonic = True
    symbols = []
    if "symbol" in table.column_names:
        symbols = sorted(s for s in pc.unique(table["symbol"]).to_pylist() if s is not None)
        for symbol in symbols:
            rows = table.filter(pc.equal(table["symbol"], symbol))
            # Nanoseconds since the epoch (datetime.datetime stops at microseconds).
            times = rows["timestamp"].cast(pa.int64()).to_pylist()
            if any(later < earlier for earlier, later in zip(times, times[1:])):
                monotonic = False
    last = pc.max(table["timestamp"].cast(pa.int64())).as_py() if table.num_rows else None
    return {
        "rows": table.num_rows,
        "last_timestamp_ns": last,
        "types": types,
        "monotonic_per_symbol": monotonic,
        "symbols": symbols,
    }


def main():
    if len(sys.argv) != 2:
        fail("usage: check.py DIR")
    target = os.environ.get("PYARROW_VENV")
    if not target:
        fail("PYARROW_VENV is not set")
    ensure_venv(target, "pyarrow", "26.0.", fail)
    folder = sys.argv[1]
    files = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".parquet"):
            files[name] = describe(os.path.join(folder, name))
    print(json.dumps({"files": files}))


if __name__ == "__main__":
    main()
