"""Helpers shared by the tests that run the command line in subprocesses."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def subprocess_env() -> dict[str, str]:
    """The environment for ``python -m sim`` children: this checkout importable, headless plots."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}


def tree_digest(directory: Path, skip: str | None = None) -> str:
    """sha256 over every path (relative) and every file's bytes under ``directory``, leaving out
    the top-level entry ``skip``: equal digests mean nothing there was written or changed."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory)
        if skip is not None and relative.parts[0] == skip:
            continue
        digest.update(str(relative).encode() + b"\0")
        if path.is_file() and not path.is_symlink():
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
