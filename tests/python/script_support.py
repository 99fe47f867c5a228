"""What the Python scripts the Rust tests run have in common: one way to
fail, re-running the script inside a virtualenv that has the package it
needs (alpaca-py, pyarrow, installed from PyPI the first time), and
collecting what alpaca-py logs as errors.

The scripts put this folder on `sys.path` from their own location, so they
work the same under `cargo test` and when run by hand.
"""

import logging
import os
import subprocess
import sys
import venv


def failer(label):
    """A `fail(message)` that prints `LABEL FAILED: message` on stderr and exits 1."""

    def fail(message):
        print(f"{label} FAILED: {message}", file=sys.stderr, flush=True)
        sys.exit(1)

    return fail


def ensure_venv(path, package, version_prefix, fail):
    """Re-executes the running script inside the virtualenv at `path`, first
    creating it and installing `package` (version `version_prefix*`) when
    that version is not there; returns when already inside it."""
    python = os.path.join(path, "bin", "python")
    if os.path.abspath(sys.prefix) == os.path.abspath(path):
        return
    if not os.path.exists(python):
        print(f"creating virtualenv {path}", file=sys.stderr, flush=True)
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(path)
        except Exception as error:  # ensurepip missing, unwritable directory…
            fail(
                f"cannot create the virtualenv {path} ({error}); install Python's venv "
                "module with pip (e.g. `apt-get install python3-venv`)"
            )
    probe = subprocess.run(
        [python, "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0 or not probe.stdout.startswith(version_prefix):
        requirement = f"{package}=={version_prefix}*"
        print(f"installing {requirement} into {path}", file=sys.stderr, flush=True)
        pip = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement]
        )
        if pip.returncode != 0:
            fail(
                f"pip install {requirement} failed (exit {pip.returncode}); it needs pip "
                "in the virtualenv and access to PyPI (or PIP_INDEX_URL pointing at a mirror)"
            )
    script = os.path.abspath(sys.argv[0])
    os.execv(python, [python, script, *sys.argv[1:]])


def collect_alpaca_errors():
    """A list that from now on receives every error alpaca-py logs."""
    errors = []

    class Collect(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR:
                errors.append(record.getMessage())

    logging.getLogger("alpaca").addHandler(Collect())
    logging.getLogger("alpaca").setLevel(logging.INFO)
    return errors
