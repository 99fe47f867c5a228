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
import subprocess
import sys
import venv

REQUIREMENT = "pyarrow==26.0.*"


def fail(message):
    print(f"pyarrow check FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def ensure_venv(path):
    """Re-executes this script inside a virtualenv that has pyarrow."""
    python = os.path.join(path, "bin", "python")
    if os.path.abspath(sys.prefix) == os.path.abspath(path):
        return
    if not os.path.exists(python):
        print(f"creating virtualenv {path}", file=sys.stderr)
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(path)
        except Exception as error:  # ensurepip missing, unwritable directory…
            fail(
                f"cannot create the virtualenv {path} ({error}); install Python's venv "
                "module with pip (e.g. `apt-get install python3-venv`)"
            )
    probe = subprocess.run([python, "-c", "import pyarrow"], capture_output=True)
    if probe.returncode != 0:
        print(f"installing {REQUIREMENT} into {path}", file=sys.stderr)
        install = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", REQUIREMENT]
        )
        if install.returncode != 0:
            fail(
                f"pip could not install {REQUIREMENT} (exit {install.returncode}); it needs "
                "pip and access to PyPI"
            )
    os.execv(python, [python] + sys.argv)


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
    ensure_venv(target)
    folder = sys.argv[1]
    files = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".parquet"):
            files[name] = describe(os.path.join(folder, name))
    print(json.dumps({"files": files}))


if __name__ == "__main__":
    main()
