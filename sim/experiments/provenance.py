"""Which code made a result: the model-code fingerprint, the git commit and the environment.

The **code fingerprint** is the sha256 of

* every ``sim/**/*.py`` source and every shipped scenario (``sim/**/*.toml``), each as its
  path relative to the package and the sha256 of its bytes, in path order;
* the installed versions of the packages that change results (:data:`RESULT_PACKAGES`:
  numpy, scipy, pandas, pyarrow, mesa, networkx, numba).

Any edit to the model, its scenarios or those packages changes it; it is computed once per
process (the code that runs is the code imported, whatever changes on disk later) and written
into every chunk a process computes and into the manifest, so chunks of two model versions
are never mixed in one result.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

RESULT_PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "mesa", "networkx", "numba")
"""Packages whose version is part of the code fingerprint."""

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
"""The ``sim`` package directory this process imported."""


@cache
def package_versions() -> dict[str, str]:
    """Installed versions of :data:`RESULT_PACKAGES` (``"absent"`` for one not installed)."""
    versions = {}
    for name in RESULT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def fingerprint_of(root: Path, versions: Mapping[str, str]) -> str:
    """sha256 over the sources (``*.py``) and scenarios (``*.toml``) under ``root`` and the
    given package ``versions`` (see the module docstring)."""
    digest = hashlib.sha256()
    files = sorted(
        p
        for pattern in ("*.py", "*.toml")
        for p in root.rglob(pattern)
        if "__pycache__" not in p.parts and p.is_file()
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    for name in sorted(versions):
        digest.update(f"{name}=={versions[name]}\0".encode())
    return digest.hexdigest()


@cache
def code_fingerprint() -> str:
    """The fingerprint of the model code this process runs (computed once per process)."""
    return fingerprint_of(PACKAGE_ROOT, package_versions())


@cache
def git_commit() -> tuple[str | None, bool | None]:
    """Commit and dirty flag of the checkout the package runs from, when it is one. Read once
    per process, like :func:`code_fingerprint`."""
    root = PACKAGE_ROOT.parent
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return head or None, bool(status.strip())


def environment() -> dict[str, Any]:
    """Versions recorded in the manifest when a result directory is created."""
    import sim

    commit, dirty = git_commit()
    return {
        "package": "techcomp-sim",
        "package_version": sim.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "code_sha256": code_fingerprint(),
        "python": platform.python_version(),
        **package_versions(),
        "platform": platform.platform(),
    }
