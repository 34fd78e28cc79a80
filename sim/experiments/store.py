"""The result store: ``<out>/<name>/`` with Parquet chunks and ``manifest.json``.

Layout::

    <name>/manifest.json                     definition, versions, seeds, times, chunk table
    <name>/chunks/p000012-r00000-00009.parquet   one finished work unit (point 12, reps 0-9)
    <name>/figures/*.png, *.svg              written by ``python -m sim figures``

Every file is written to a temporary name in the same directory and renamed into place
(``os.replace`` is atomic on POSIX), so a chunk file either exists whole or not at all. The
manifest says ``"status": "running"`` until the last chunk is in, then ``"complete"``; a killed
sweep therefore never looks complete. On a re-run the store checks every chunk: one listed in
the manifest whose sha256 does not match is reported and recomputed; one on disk but not yet
listed (the manifest is rewritten at most once a second) is accepted when Parquet can read it
and it has the expected number of rows.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.experiments.runners import Chunk, WorkUnit, encode_parquet
from sim.experiments.spec import SweepSpec

MANIFEST = "manifest.json"
CHUNKS = "chunks"
FORMAT_VERSION = 1
_TMP_PREFIX = ".tmp-"


class StoreError(Exception):
    """The output directory cannot be used (unwritable, or holds a different sweep)."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: Path, write: Callable[[Path], object], *, sync: bool = False) -> None:
    """Call ``write(tmp)`` on a temporary path beside ``path`` and rename it into place.

    The rename makes the write atomic for any reader and against the process being killed.
    ``sync`` also flushes the data to disk first (against power loss); chunks skip it because
    a resume re-checks every chunk, and the flush would cost more than the 5% overhead budget.
    """
    fd, name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        if sync:
            with tmp.open("rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), sync=True)


def write_parquet(path: Path, frame: pd.DataFrame) -> None:
    """Write ``frame`` (no index) to ``path`` atomically."""
    data = encode_parquet(frame)
    atomic_write_bytes(path, lambda tmp: tmp.write_bytes(data))


@cache
def _git_commit() -> tuple[str | None, bool | None]:
    """Commit and dirty flag of the checkout the package runs from, when it is one. Read once
    per process: the code that runs is the code imported, whatever changes on disk later."""
    root = Path(__file__).resolve().parents[2]
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
    """Versions recorded in every manifest."""
    import mesa
    import numpy
    import scipy

    import sim

    commit, dirty = _git_commit()
    return {
        "package": "techcomp-sim",
        "package_version": sim.__version__,
        "git_commit": commit,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "mesa": mesa.__version__,
        "pandas": pd.__version__,
        "pyarrow": pa.__version__,
        "scipy": scipy.__version__,
        "platform": platform.platform(),
    }


def _not_writable(option: str, path: Path, exc: OSError) -> StoreError:
    reason = exc.strerror or type(exc).__name__
    return StoreError(f"{option} {path}: not a writable directory ({reason})")


def check_writable(path: Path, option: str) -> None:
    """Raise :class:`StoreError` (naming ``option``) unless ``path`` is a writable directory or
    could be made as one: its nearest existing ancestor, where it would be made, must be a
    directory that takes a new file. Creates nothing (the probe file is removed again)."""
    nearest = next(p for p in (path, *path.parents) if p.exists())
    try:
        if not nearest.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        fd, probe = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=nearest)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _not_writable(option, path, exc) from None


def read_manifest(directory: Path) -> dict[str, Any] | None:
    path = directory / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StoreError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: unreadable manifest (not a JSON object)")
    return data


class Store:
    """One sweep's directory. ``open`` checks it; ``resume`` finds finished units;
    ``begin``/``add``/``finish`` write as the sweep goes."""

    def __init__(self, directory: str | Path, spec: SweepSpec, *, force: bool = False) -> None:
        self.directory = Path(directory)
        self.chunk_dir = self.directory / CHUNKS
        self.spec = spec
        self.force = force
        self.manifest: dict[str, Any] = {}
        self._last_flush = 0.0
        self._replace = False  # holds another definition's results, cleared with force
        self._discard: list[Path] = []  # chunks found damaged or foreign on resume

    def open(self) -> None:
        """Check the directory can hold this sweep; raise :class:`StoreError` when not.

        Creates nothing: the directories are made, and with ``force`` the results of another
        definition cleared, by :meth:`begin`, once the backend is up, so a sweep that cannot
        start leaves nothing behind."""
        # the manifest and the chunks are written in two directories
        check_writable(self.directory, "--out")
        check_writable(self.chunk_dir, "--out")
        existing = read_manifest(self.directory)
        if existing is None:
            return
        if existing.get("sweep_sha256") != self.spec.fingerprint():
            if not self.force:
                raise StoreError(
                    f"--out {self.directory}: holds results of a different sweep definition "
                    f"({existing.get('name')!r}); use another directory or --force to replace them"
                )
            self._replace = True
        else:
            self.manifest = existing

    def resume(self, units: list[WorkUnit]) -> set[str]:
        """Names of chunks already finished and intact. Damaged or foreign ones are reported
        (with a warning) and removed by :meth:`begin`, so they are computed again."""
        listed: dict[str, Any] = dict(self.manifest.get("chunks", {}))
        self.manifest["chunks"] = {}
        if self._replace or not self.chunk_dir.is_dir():
            return set()
        wanted = {u.chunk_name: u for u in units}
        rows_per_run = self.spec.recorded_steps
        done: dict[str, Any] = {}
        for path in sorted(self.chunk_dir.glob("*.parquet")):
            unit = wanted.get(path.name)
            if unit is None:
                warnings.warn(f"{path}: not part of this sweep; removing it", stacklevel=2)
                self._discard.append(path)
                continue
            entry = listed.get(path.name)
            checksum = sha256_file(path)
            if entry is not None and entry.get("sha256") != checksum:
                warnings.warn(
                    f"{path}: checksum does not match the manifest; recomputing it", stacklevel=2
                )
                self._discard.append(path)
                continue
            try:
                rows = pq.read_metadata(path).num_rows
            except (OSError, pa.ArrowException):
                rows = -1
            if rows != unit.runs * rows_per_run:
                warnings.warn(
                    f"{path}: unreadable or incomplete chunk; recomputing it", stacklevel=2
                )
                self._discard.append(path)
                continue
            done[path.name] = entry or self._entry(unit, path, rows, checksum)
        self.manifest["chunks"] = done
        return set(done)

    @staticmethod
    def _entry(unit: WorkUnit, path: Path, rows: int, checksum: str) -> dict[str, Any]:
        return {
            "point_id": unit.point_id,
            "replicates": [unit.first_replicate, unit.first_replicate + unit.runs],
            "rows": rows,
            "bytes": path.stat().st_size,
            "sha256": checksum,
        }

    def begin(self, *, n_points: int, n_units: int, backend: str, workers: int) -> None:
        """Make the directories, clear what :meth:`open` and :meth:`resume` found stale, and
        write the manifest with ``status = "running"``."""
        try:
            self.chunk_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _not_writable("--out", self.directory, exc) from None
        stale = [*self.chunk_dir.glob(f"{_TMP_PREFIX}*"), *self._discard]
        if self._replace:
            stale += [*self.chunk_dir.glob("*.parquet"), self.directory / MANIFEST]
        for path in stale:
            path.unlink(missing_ok=True)
        self._discard = []
        spec = self.spec
        started = _now()
        previous_runs = list(self.manifest.get("invocations", []))
        self.manifest = {
            "format_version": FORMAT_VERSION,
            "name": spec.name,
            "description": spec.description,
            "status": "running",
            "created": self.manifest.get("created", started),
            "finished": None,
            "sweep_sha256": spec.fingerprint(),
            "definition": spec.definition(),
            "source": spec.source,
            "root_seed": spec.root_seed,
            "n_points": n_points,
            "replicates": spec.replicates,
            "n_runs": n_points * spec.replicates,
            "n_units": n_units,
            "steps": spec.steps,
            "record": spec.record,
            "environment": environment(),
            "invocations": [
                *previous_runs,
                {"started": started, "backend": backend, "workers": workers},
            ],
            "chunks": self.manifest.get("chunks", {}),
        }
        self._flush()

    def add(self, unit: WorkUnit, chunk: Chunk) -> None:
        """Write one finished unit's chunk and record its rows and checksum (computed where
        the unit ran, over the very bytes written)."""
        path = self.chunk_dir / unit.chunk_name
        atomic_write_bytes(path, lambda tmp: tmp.write_bytes(chunk.data))
        self.manifest["chunks"][unit.chunk_name] = self._entry(unit, path, chunk.rows, chunk.sha256)
        if time.monotonic() - self._last_flush > 1.0:
            self._flush()

    def finish(self, elapsed: float) -> None:
        """Mark the sweep complete (only when every unit's chunk is in)."""
        if len(self.manifest["chunks"]) != self.manifest["n_units"]:
            raise RuntimeError(
                f"{self.directory}: {len(self.manifest['chunks'])} of "
                f"{self.manifest['n_units']} chunks written; sweep not complete"
            )
        self.manifest["status"] = "complete"
        self.manifest["finished"] = _now()
        self.manifest["invocations"][-1]["elapsed_seconds"] = round(elapsed, 3)
        self.manifest["rows"] = sum(c["rows"] for c in self.manifest["chunks"].values())
        self._flush()

    def close(self) -> None:
        """Write what is known (a stopped sweep stays ``running``, i.e. incomplete)."""
        if self.manifest:
            with contextlib.suppress(OSError):
                self._flush()

    def _flush(self) -> None:
        self.manifest["chunks"] = dict(sorted(self.manifest["chunks"].items()))
        atomic_write_text(
            self.directory / MANIFEST, json.dumps(self.manifest, indent=2, sort_keys=False) + "\n"
        )
        self._last_flush = time.monotonic()


def results_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a results directory; :class:`StoreError` when there is none."""
    manifest = read_manifest(directory)
    if manifest is None:
        raise StoreError(f"{directory}: no {MANIFEST}; not a results directory")
    return manifest


def verify(directory: str | Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """Chunks whose file is missing or whose sha256 differs from the manifest (read from
    ``directory`` when not given)."""
    directory = Path(directory)
    if manifest is None:
        manifest = results_manifest(directory)
    bad = []
    for name, entry in manifest.get("chunks", {}).items():
        path = directory / CHUNKS / name
        if not path.exists() or sha256_file(path) != entry["sha256"]:
            bad.append(name)
    return bad


def load(directory: str | Path, *, check: bool = False) -> pd.DataFrame:
    """All runs of a results directory as one tidy frame, sorted by ``point_id``,
    ``replicate`` and ``step`` (one row per recorded step of each run).

    ``check=True`` verifies every chunk's checksum first. Loading a sweep that is not complete
    warns and returns what is there."""
    directory = Path(directory)
    manifest = results_manifest(directory)
    if check:
        bad = verify(directory, manifest)
        if bad:
            raise StoreError(f"{directory}: chunk {bad[0]} fails its checksum")
    if manifest.get("status") != "complete":
        warnings.warn(f"{directory}: sweep not complete; loading the finished runs", stacklevel=2)
    return read_chunks(directory, manifest)


def read_chunks(directory: Path, manifest: dict[str, Any]) -> pd.DataFrame:
    """The chunks listed in ``manifest`` as one frame (see :func:`load`)."""
    names = sorted(manifest.get("chunks", {}))
    if not names:
        return pd.DataFrame()
    frames = [pq.read_table(directory / CHUNKS / n).to_pandas() for n in names]
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["point_id", "replicate", "step"], ignore_index=True)
