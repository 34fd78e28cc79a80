"""The result store: ``<out>/<name>/`` with Parquet chunks and ``manifest.json``.

Layout::

    <name>/manifest.json                     definition, versions, seeds, times, chunk table
    <name>/chunks/p000012-r00000-00009.parquet   one finished work unit (point 12, reps 0-9)
    <name>/.lock                             the writer's lock (an empty file, kept)
    <name>/figures/*.png, *.svg              written by ``python -m sim figures``

**Atomic writes.** Every file is written to a temporary name in the same directory and renamed
into place (``os.replace`` is atomic on POSIX), so a chunk file either exists whole or not at
all. The manifest says ``"status": "running"`` until the last chunk is in, then
``"complete"``; a killed sweep therefore never looks complete.

**Identity.** Every chunk carries in its Parquet metadata the sweep's definition fingerprint,
its point, replicates and seeds, and the fingerprint of the model code that computed it
(:class:`~sim.experiments.runners.ChunkIdentity`). A chunk counts as done only when all of
these match the running sweep (and, when the manifest lists it, its sha256 matches too),
whatever the manifest says.

**One writer.** A sweep takes an exclusive ``fcntl.flock`` on ``<name>/.lock`` before it looks
at anything in the directory and holds it to the end; the kernel releases it when the process
exits, however it exits. A second sweep on a locked directory is refused, naming the holder.

**Nothing of the user's is touched.** On a re-run the store sorts what it finds:

* its own files for this sweep and this code: chunks are checked and kept, or (damaged: a
  wrong checksum, identity or row count, unreadable) reported and computed again;
* its own files of another sweep or of other model code (a lost manifest, a changed model):
  refused, unless ``force``, which starts again (they are removed);
* anything else (files it did not write): refused in a directory that is not a result
  directory, unless ``force``; never removed or replaced, even with ``force``.

**Checked reads.** :func:`load` (and the figures) verify each chunk's checksum against the
manifest and its identity against the manifest's sweep and code before using it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from sim.errors import join_path, short_repr
from sim.experiments.provenance import code_fingerprint, environment, git_commit
from sim.experiments.runners import Chunk, ChunkIdentity, WorkUnit, encode_parquet
from sim.experiments.spec import SweepSpec

MANIFEST = "manifest.json"
CHUNKS = "chunks"
LOCK = ".lock"
FORMAT_VERSION = 2
_TMP_PREFIX = ".tmp-"
CHUNK_NAME = re.compile(r"p\d{6,}-r\d{5,}-\d{5,}\.parquet")
# what the tools write at the top of a result directory (figures by ``python -m sim figures``)
STORE_ENTRIES = frozenset({MANIFEST, CHUNKS, LOCK, "figures", "regimes.csv", "sobol_indices.csv"})
MAX_MANIFEST_BYTES = 1 << 28
_SHORT = 16  # hex digits of a fingerprint shown in messages


class StoreError(Exception):
    """The output directory cannot be used (unwritable, locked, holds another sweep's or
    someone else's files), or a result fails its checks."""


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


def file_kind(mode: int) -> str:
    """What a file is, in words, from its ``st_mode``."""
    kinds = (
        (stat.S_ISLNK, "a symlink"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISREG, "a regular file"),
    )
    return next((word for test, word in kinds if test(mode)), "not a regular file")


def _not_writable(option: str, path: Path, exc: OSError) -> StoreError:
    reason = exc.strerror or type(exc).__name__
    return StoreError(f"{option} {path}: not a writable directory ({reason})")


def check_writable(path: Path, option: str) -> None:
    """Raise :class:`StoreError` (naming ``option``) unless ``path`` is a writable directory or
    could be made as one: its nearest existing ancestor, where it would be made, must be a
    directory that takes a new file. Creates nothing (the probe file is removed again)."""
    if path.is_symlink() and not path.exists():
        raise StoreError(f"{option} {path}: a symlink to nothing; expected a directory")
    nearest = next(p for p in (path, *path.parents) if p.exists())
    try:
        if not nearest.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        fd, probe = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=nearest)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _not_writable(option, path, exc) from None


# ---- the manifest ---------------------------------------------------------------------------

ChunkName = Annotated[str, StringConstraints(pattern=CHUNK_NAME.pattern)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ChunkEntry(BaseModel):
    """One chunk as the manifest lists it."""

    model_config = ConfigDict(strict=True, extra="allow")
    point_id: int = Field(ge=0)
    replicates: tuple[int, int]
    rows: int = Field(ge=0)
    bytes: int = Field(ge=0)
    sha256: Sha256


class ManifestModel(BaseModel):
    """The fields of ``manifest.json`` the tools rely on (others are kept as they are)."""

    model_config = ConfigDict(strict=True, extra="allow")
    format_version: int
    name: str
    status: Literal["running", "complete"]
    sweep_sha256: str
    code_sha256: str | None = None
    definition: dict[str, Any]
    n_units: int = Field(ge=0)
    chunks: dict[ChunkName, ChunkEntry]
    invocations: list[dict[str, Any]] = []


def _manifest_problem(exc: ValidationError, data: Any) -> str:
    """The first of pydantic's complaints about a manifest, as ``field=value: expected``."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    kind = error["type"]
    expected = {
        "dict_type": "expected a table",
        "missing": "missing",
        "int_type": "expected a whole number",
        "string_type": "expected a string",
        "string_pattern_mismatch": "not a valid name or sha256",
        "literal_error": "expected 'running' or 'complete'",
        "tuple_type": "expected [first, end]",
        "list_type": "expected a list",
    }.get(kind, str(error.get("msg", kind)))
    if kind == "missing":
        return f"{join_path(loc, data)}: missing"
    if loc and loc[-1] == "[key]":  # an invalid chunk name
        return f"chunks: {short_repr(error.get('input'))}: not a chunk file name"
    where = join_path([p for p in loc if p != "[key]"], data) or "manifest"
    return f"{where}={short_repr(error.get('input'))}: {expected}"


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest of ``directory`` (``None`` when there is none), checked: a regular file
    holding a JSON object with the fields the tools rely on, of the right types;
    :class:`StoreError` (one line) otherwise."""
    path = Path(directory) / MANIFEST
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"{path}: unreadable manifest ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        raise StoreError(f"{path}: unreadable manifest ({file_kind(info.st_mode)})")
    if info.st_size > MAX_MANIFEST_BYTES:
        raise StoreError(f"{path}: unreadable manifest ({info.st_size} bytes)")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise StoreError(f"{path}: unreadable manifest ({exc})") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path}: unreadable manifest (not a JSON object)")
    try:
        ManifestModel.model_validate_json(text)
    except ValidationError as exc:
        raise StoreError(f"{path}: unreadable manifest ({_manifest_problem(exc, data)})") from None
    if data["format_version"] not in (1, FORMAT_VERSION):
        raise StoreError(
            f"{path}: format_version={data['format_version']!r}: this version of the tool "
            f"reads 1 and {FORMAT_VERSION}"
        )
    return data


def results_manifest(directory: Path) -> dict[str, Any]:
    """The manifest of a results directory; :class:`StoreError` when there is none."""
    manifest = read_manifest(directory)
    if manifest is None:
        raise StoreError(f"{directory}: no {MANIFEST}; not a results directory")
    return manifest


# ---- the lock -------------------------------------------------------------------------------


def _lock_holder(fd: int) -> int | None:
    """PID holding a ``flock`` on the file open as ``fd``, from ``/proc/locks`` (Linux), or
    ``None`` when it cannot be told."""
    info = os.fstat(fd)
    wanted = (os.major(info.st_dev), os.minor(info.st_dev), info.st_ino)
    try:
        lines = Path("/proc/locks").read_text(encoding="ascii").splitlines()
    except OSError:
        return None
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 4242 00:2d:1234567 0 EOF"; waiters carry "->"
        parts = line.split()
        if len(parts) < 6 or "->" in parts[1] or parts[1] != "FLOCK":
            continue
        try:
            major, minor, inode = parts[5].split(":")
            where = (int(major, 16), int(minor, 16), int(inode))
            pid = int(parts[4])
        except ValueError:
            continue
        if where == wanted:
            return pid
    return None


def _recorded_holder(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


# ---- the store ------------------------------------------------------------------------------


@dataclass
class _Survey:
    """What :meth:`Store.open` found in the chunk directory."""

    done: dict[str, dict[str, Any]] = field(default_factory=dict)
    damaged: list[tuple[Path, str]] = field(default_factory=list)  # recomputed, with a warning
    temporary: list[Path] = field(default_factory=list)  # the store's own leftovers
    foreign: list[tuple[str, ChunkIdentity]] = field(default_factory=list)  # another sweep's
    other_code: list[tuple[str, ChunkIdentity]] = field(default_factory=list)
    stale: list[Path] = field(default_factory=list)  # listed by a manifest being replaced
    unproven: list[str] = field(default_factory=list)  # chunk names without an identity
    users: list[str] = field(default_factory=list)  # not written by this tool
    blocking: list[str] = field(default_factory=list)  # not ours, where a chunk must go
    missing: list[Path] = field(default_factory=list)  # listed but gone


class Store:
    """One sweep's directory. ``open`` locks and checks it and finds the finished units;
    ``begin``/``add``/``finish`` write as the sweep goes; ``close`` writes what is known and
    releases the lock, ``abandon`` (nothing written yet) also removes what ``open`` made."""

    def __init__(self, directory: str | Path, spec: SweepSpec, *, force: bool = False) -> None:
        self.directory = Path(directory)
        self.chunk_dir = self.directory / CHUNKS
        self.spec = spec
        self.force = force
        self.sweep = spec.fingerprint()
        self.code = code_fingerprint()
        self.manifest: dict[str, Any] = {}
        self._previous: dict[str, Any] | None = None  # the manifest found, if any
        self._replaced: dict[str, Any] | None = None  # what --force replaces
        self._last_flush = 0.0
        self._discard: list[Path] = []
        self._lock_fd: int | None = None
        self._made: list[Path] = []  # directories and lock file made by open (for abandon)

    # -- opening: lock, check, survey ---------------------------------------------------------

    def open(self, units: list[WorkUnit]) -> set[str]:
        """Lock the directory, check it can hold this sweep and return the names of the chunks
        already finished; :class:`StoreError` (one line) when it cannot be used. Damaged
        chunks are reported (``warnings.warn``) after every check has passed.

        Writes nothing but the directory and its lock file when they are missing (removed
        again by :meth:`abandon`); chunks are removed, and the manifest written, by
        :meth:`begin`."""
        # the manifest and the chunks are written in two directories
        check_writable(self.directory, "--out")
        check_writable(self.chunk_dir, "--out")
        self._lock()
        try:
            survey = self._survey(units)
        except BaseException:
            self.abandon()
            raise
        for path, why in survey.damaged:
            warnings.warn(f"{path}: {why}; recomputing it", stacklevel=2)
        for path in survey.missing:
            warnings.warn(
                f"{path}: listed in the manifest but missing; recomputing it", stacklevel=2
            )
        self.manifest = {"chunks": survey.done}
        return set(survey.done)

    def _lock(self) -> None:
        missing = [p for p in (self.directory, *self.directory.parents) if not p.exists()]
        for path in reversed(missing):
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                self.abandon()
                raise _not_writable("--out", self.directory, exc) from None
            self._made.append(path)
        path = self.directory / LOCK
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                self._made.append(path)
            except FileExistsError:
                try:
                    fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
                except OSError as exc:
                    self.abandon()
                    raise StoreError(
                        f"--out {self.directory}: cannot open its lock file {LOCK} "
                        f"({exc.strerror}); move it away"
                    ) from None
            except OSError as exc:
                self.abandon()
                raise _not_writable("--out", self.directory, exc) from None
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                os.close(fd)
                self.abandon()
                raise StoreError(f"--out {self.directory}: {LOCK} is not a regular file")
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = _lock_holder(fd) if exc.errno in (errno.EAGAIN, errno.EACCES) else None
                os.close(fd)
                if path in self._made:
                    self._made.remove(path)
                self.abandon()
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise StoreError(
                        f"--out {self.directory}: cannot lock {LOCK} ({exc.strerror})"
                    ) from None
                holder = holder or _recorded_holder(path)
                who = f"PID {holder}" if holder else "another process"
                raise StoreError(
                    f"--out {self.directory}: in use by another sweep ({who} holds its lock); "
                    "wait for it to finish, stop it, or use another --out"
                ) from None
            try:  # the file may have been replaced between open and lock: lock the new one
                same = os.path.samestat(os.fstat(fd), os.lstat(path))
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd = fd
                return
            os.close(fd)

    def inherited_fds(self) -> tuple[int, ...]:
        """Descriptors a forked worker must close (the lock must die with this process)."""
        return () if self._lock_fd is None else (self._lock_fd,)

    def _survey(self, units: list[WorkUnit]) -> _Survey:
        directory = self.directory
        force_hint = "use another --out, or --force to start again"
        manifest_path = directory / MANIFEST
        if manifest_path.is_symlink() or (manifest_path.exists() and not manifest_path.is_file()):
            kind = file_kind(os.lstat(manifest_path).st_mode)
            raise StoreError(
                f"--out {directory}: {MANIFEST} is {kind}, not a manifest this tool wrote; "
                "move it away or use another --out"
            )
        try:
            existing = read_manifest(directory)
        except StoreError as exc:
            if not self.force:
                raise StoreError(f"{exc}; {force_hint}") from None
            existing, self._replaced = None, {"reason": "unreadable manifest"}
        ours: dict[str, Any] | None = None
        if existing is not None:
            self._previous = existing
            if existing["sweep_sha256"] != self.sweep:
                if not self.force:
                    raise StoreError(
                        f"--out {directory}: holds results of a different sweep definition "
                        f"({existing.get('name')!r}); use another directory or --force to "
                        "replace them"
                    )
                self._replaced = {"reason": "different sweep definition"}
            elif existing.get("code_sha256") != self.code:
                if not self.force:
                    old = existing.get("code_sha256")
                    was = (
                        f"model code {old[:_SHORT]}"
                        if isinstance(old, str)
                        else "a version of the store without code fingerprints"
                    )
                    raise StoreError(
                        f"--out {directory}: results computed by {was}; this is model code "
                        f"{self.code[:_SHORT]}; resuming would mix two model versions: "
                        f"{force_hint}"
                    )
                self._replaced = {"reason": "different model code"}
            else:
                ours = existing
            if self._replaced is not None:
                self._replaced.update(
                    sweep_sha256=existing["sweep_sha256"], code_sha256=existing.get("code_sha256")
                )
        if ours is None and existing is None and not self.force:
            strangers = self._strangers()
            if strangers:
                raise StoreError(
                    f"--out {directory}: holds files this tool did not write "
                    f"({_some(strangers)}) and no {MANIFEST}; use an empty or new directory, or "
                    "--force to write beside them (they are left alone)"
                )
        previous = set(existing["chunks"]) if existing is not None else set()
        survey = self._survey_chunks(units, ours, previous)
        if survey.blocking:
            raise StoreError(
                f"--out {directory}: {CHUNKS}/{survey.blocking[0]} is not a chunk this tool "
                "wrote, where one must be written; move it away or use another --out"
            )
        if not self.force:
            if survey.users and ours is None:  # in a result directory they are left alone
                raise StoreError(
                    f"--out {directory}: {CHUNKS}/ holds files this tool did not write "
                    f"({_some(survey.users)}); move them away, use another --out, or --force "
                    "to write beside them (they are left alone)"
                )
            if survey.foreign:
                name, ident = survey.foreign[0]
                more = f" and {len(survey.foreign) - 1} more" if len(survey.foreign) > 1 else ""
                raise StoreError(
                    f"--out {directory}: {CHUNKS}/{name}{more} holds results of another sweep "
                    f"(sweep {ident.sweep_sha256[:_SHORT]}, this sweep {self.sweep[:_SHORT]}); "
                    f"{force_hint}"
                )
            if survey.other_code:
                name, ident = survey.other_code[0]
                raise StoreError(
                    f"--out {directory}: {CHUNKS}/{name} was computed by model code "
                    f"{ident.code_sha256[:_SHORT]}; this is model code {self.code[:_SHORT]}; "
                    f"resuming would mix two model versions: {force_hint}"
                )
            if survey.unproven:
                raise StoreError(
                    f"--out {directory}: {CHUNKS}/{survey.unproven[0]} cannot be told to be a "
                    "chunk of this sweep (unreadable, or written without a chunk identity) and "
                    f"there is no {MANIFEST}; {force_hint}"
                )
        elif survey.foreign or survey.other_code or survey.unproven:
            self._replaced = self._replaced or {"reason": "chunks of another sweep or code"}
        self._discard = [
            *survey.temporary,
            *survey.stale,
            *(p for p, _ in survey.damaged),
            *(self.chunk_dir / n for n, _ in (*survey.foreign, *survey.other_code)),
            *(self.chunk_dir / n for n in survey.unproven),
        ]
        return survey

    def _strangers(self) -> list[str]:
        """Top-level entries of the directory the tools do not write."""
        try:
            names = sorted(os.listdir(self.directory))
        except OSError:
            return []
        return [n for n in names if n not in STORE_ENTRIES and not n.startswith(_TMP_PREFIX)]

    def _survey_chunks(
        self, units: list[WorkUnit], ours: dict[str, Any] | None, previous: set[str]
    ) -> _Survey:
        """Sort the chunk directory (see the module docstring). ``ours``: the manifest when it
        is this sweep's and this code's; ``previous``: names listed by any manifest found."""
        survey = _Survey()
        if not self.chunk_dir.is_dir():
            return survey
        wanted = {u.chunk_name: u for u in units}
        listed: dict[str, Any] = ours["chunks"] if ours is not None else {}
        with os.scandir(self.chunk_dir) as entries:
            found = sorted(entries, key=lambda e: e.name)
        for entry in found:
            name, path = entry.name, Path(entry.path)
            regular = entry.is_file(follow_symlinks=False)
            if name.startswith(_TMP_PREFIX) and regular:
                survey.temporary.append(path)
                continue
            unit = wanted.get(name)
            if not regular:
                (survey.blocking if unit is not None else survey.users).append(name)
                continue
            listed_entry = listed.get(name)
            if listed_entry is not None and listed_entry["sha256"] != sha256_file(path):
                survey.damaged.append((path, "checksum does not match the manifest"))
                continue
            ident, rows = _identity_of(path)
            if ident is None:  # ours only if a manifest claims the name
                if unit is not None and ours is not None:
                    survey.damaged.append((path, "unreadable or incomplete chunk"))
                elif name in previous:
                    survey.stale.append(path)
                elif unit is not None:
                    survey.unproven.append(name)
                else:
                    survey.users.append(name)
            elif ident.sweep_sha256 != self.sweep:
                survey.foreign.append((name, ident))
            elif ident.code_sha256 != self.code:
                survey.other_code.append((name, ident))
            elif unit is None or not ident.matches(unit):
                survey.damaged.append((path, "holds another unit's runs"))
            elif rows != unit.runs * self.spec.recorded_steps:
                survey.damaged.append((path, "unreadable or incomplete chunk"))
            else:
                survey.done[name] = listed_entry or _entry(unit, path, rows, sha256_file(path))
        present = {e.name for e in found}
        survey.missing = [self.chunk_dir / n for n in sorted(set(listed) - present) if n in wanted]
        return survey

    def abandon(self) -> None:
        """Release the lock and remove what :meth:`open` made (a missing directory, the lock
        file), so a sweep that could not start leaves nothing behind."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        for path in reversed(self._made):
            with contextlib.suppress(OSError):
                if path.name == LOCK and path.is_file():
                    path.unlink()
                else:
                    path.rmdir()  # only ever an empty directory this open made
        self._made = []

    # -- writing ------------------------------------------------------------------------------

    def begin(self, *, n_points: int, n_units: int, backend: str, workers: int) -> None:
        """Make the chunk directory, clear what :meth:`open` found stale (the store's own
        files only), and write the manifest with ``status = "running"`` and a new invocation
        record appended to those before."""
        try:
            self.chunk_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _not_writable("--out", self.directory, exc) from None
        for path in self._discard:
            path.unlink(missing_ok=True)
        self._discard = []
        self._made = []  # from now on the directory is a result directory
        if self._lock_fd is not None:
            os.ftruncate(self._lock_fd, 0)
            os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)
        spec = self.spec
        started = _now()
        previous = self._previous or {}
        resumed = self._replaced is None and bool(previous)
        commit, dirty = git_commit()
        record: dict[str, Any] = {
            "started": started,
            "pid": os.getpid(),
            "backend": backend,
            "workers": workers,
            "git_commit": commit,
            "git_dirty": dirty,
            "code_sha256": self.code,
            "outcome": "running",
        }
        if self._replaced is not None:
            record["replaced"] = self._replaced
        invocations = previous.get("invocations", [])
        self.manifest = {
            "format_version": FORMAT_VERSION,
            "name": spec.name,
            "description": spec.description,
            "status": "running",
            "created": previous.get("created", started) if resumed else started,
            "finished": None,
            "sweep_sha256": self.sweep,
            "code_sha256": self.code,
            "definition": spec.definition(),
            "source": spec.source,
            "root_seed": spec.root_seed,
            "n_points": n_points,
            "replicates": spec.replicates,
            "n_runs": n_points * spec.replicates,
            "n_units": n_units,
            "steps": spec.steps,
            "record": spec.record,
            "environment": previous.get("environment") if resumed else environment(),
            "invocations": [*(invocations if isinstance(invocations, list) else []), record],
            "chunks": self.manifest.get("chunks", {}),
        }
        self._flush()

    def add(self, unit: WorkUnit, chunk: Chunk) -> None:
        """Write one finished unit's chunk and record its rows and checksum (computed where
        the unit ran, over the very bytes written). A chunk computed by other model code (a
        Dask worker running another version) is refused, never stored."""
        if chunk.code_sha256 != self.code:
            raise StoreError(
                f"{unit.chunk_name}: computed by model code {chunk.code_sha256[:_SHORT]} on a "
                f"worker, but this sweep runs model code {self.code[:_SHORT]}; run every worker "
                "on the same code"
            )
        path = self.chunk_dir / unit.chunk_name
        atomic_write_bytes(path, lambda tmp: tmp.write_bytes(chunk.data))
        self.manifest["chunks"][unit.chunk_name] = _entry(unit, path, chunk.rows, chunk.sha256)
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
        self._end_invocation("complete", elapsed)
        self.manifest["rows"] = sum(c["rows"] for c in self.manifest["chunks"].values())
        self._flush()

    def close(self, outcome: str = "stopped", elapsed: float | None = None) -> None:
        """Write what is known (a stopped sweep stays ``running``, i.e. incomplete), with the
        invocation's ``outcome``. The lock is kept until :meth:`release`."""
        if self.manifest.get("invocations"):
            self._end_invocation(outcome, elapsed)
            with contextlib.suppress(OSError):
                self._flush()

    def release(self) -> None:
        """Release the lock (the kernel also does when the process ends)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _end_invocation(self, outcome: str, elapsed: float | None) -> None:
        record = self.manifest["invocations"][-1]
        if record.get("outcome") != "running":
            return
        record["outcome"] = outcome
        record["ended"] = _now()
        if elapsed is not None:
            record["elapsed_seconds"] = round(elapsed, 3)

    def _flush(self) -> None:
        self.manifest["chunks"] = dict(sorted(self.manifest["chunks"].items()))
        atomic_write_text(
            self.directory / MANIFEST, json.dumps(self.manifest, indent=2, sort_keys=False) + "\n"
        )
        self._last_flush = time.monotonic()


def _some(names: list[str], shown: int = 3) -> str:
    more = f", ... ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _entry(unit: WorkUnit, path: Path, rows: int, checksum: str) -> dict[str, Any]:
    return {
        "point_id": unit.point_id,
        "replicates": [unit.first_replicate, unit.first_replicate + unit.runs],
        "rows": rows,
        "bytes": path.stat().st_size,
        "sha256": checksum,
    }


def _identity_of(path: Path) -> tuple[ChunkIdentity | None, int]:
    """A chunk file's identity and row count from its Parquet footer; ``(None, -1)`` when it
    cannot be read or carries no identity."""
    try:
        meta = pq.read_metadata(path)
    except (OSError, pa.ArrowException):
        return None, -1
    return ChunkIdentity.from_metadata(meta.metadata), meta.num_rows


# ---- reading --------------------------------------------------------------------------------


def _chunk_problem(
    name: str, entry: dict[str, Any], data: bytes | None, manifest: dict[str, Any]
) -> str | None:
    """Why the chunk ``name`` (its bytes ``data``, ``None`` when not a readable file) fails
    its checks against ``manifest``, or ``None``."""
    first, end = entry["replicates"]
    if name != f"p{entry['point_id']:06d}-r{first:05d}-{end - 1:05d}.parquet":
        return "is listed under a name that does not match its point and replicates"
    if data is None:
        return "missing or not a regular file"
    if hashlib.sha256(data).hexdigest() != entry["sha256"]:
        return "fails its checksum"
    try:
        meta = pq.read_metadata(pa.BufferReader(data))
    except (OSError, pa.ArrowException):
        return "is not a readable Parquet file"
    ident = ChunkIdentity.from_metadata(meta.metadata)
    if ident is None:
        if manifest.get("format_version", 1) >= 2:
            return "carries no chunk identity"
        return None  # written before identities: its checksum is all there is
    if ident.sweep_sha256 != manifest["sweep_sha256"]:
        return f"belongs to another sweep (sweep {ident.sweep_sha256[:_SHORT]})"
    if manifest.get("code_sha256") and ident.code_sha256 != manifest["code_sha256"]:
        return f"was computed by other model code (code {ident.code_sha256[:_SHORT]})"
    if ident.point_id != entry["point_id"] or list(ident.replicates) != list(entry["replicates"]):
        return "holds another unit's runs"
    if meta.num_rows != entry["rows"]:
        return "has the wrong number of rows"
    return None


def _read_bytes(path: Path) -> bytes | None:
    """The bytes of a regular file (not following a symlink), ``None`` otherwise."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read()
    except OSError:
        return None
    finally:
        os.close(fd)


def verify(directory: str | Path, manifest: dict[str, Any] | None = None) -> list[str]:
    """Chunks listed in the manifest (read from ``directory`` when not given) that fail their
    checks: missing or not a regular file, checksum, identity (sweep, code, unit), rows."""
    directory = Path(directory)
    if manifest is None:
        manifest = results_manifest(directory)
    return [
        name
        for name, entry in manifest["chunks"].items()
        if _chunk_problem(name, entry, _read_bytes(directory / CHUNKS / name), manifest)
    ]


def load(directory: str | Path, *, check: bool = True) -> pd.DataFrame:
    """All runs of a results directory as one tidy frame, sorted by ``point_id``,
    ``replicate`` and ``step`` (one row per recorded step of each run).

    Every chunk's checksum and identity are verified against the manifest first
    (:class:`StoreError` naming the first chunk that fails); ``check=False`` skips that, for
    speed. Loading a sweep that is not complete warns and returns what is there."""
    directory = Path(directory)
    manifest = results_manifest(directory)
    if manifest.get("status") != "complete":
        warnings.warn(f"{directory}: sweep not complete; loading the finished runs", stacklevel=2)
    return read_chunks(directory, manifest, check=check)


def read_chunks(directory: Path, manifest: dict[str, Any], *, check: bool = True) -> pd.DataFrame:
    """The chunks listed in ``manifest`` as one frame (see :func:`load`), each checked first
    unless ``check`` is false; :class:`StoreError` naming the chunk that fails or cannot be
    read."""
    names = sorted(manifest["chunks"])
    if check and manifest.get("status") == "complete" and len(names) != manifest["n_units"]:
        raise StoreError(
            f"{directory / MANIFEST}: says complete but lists {len(names)} of "
            f"{manifest['n_units']} chunks; re-run the sweep"
        )
    if not names:
        return pd.DataFrame()
    frames = [_read_chunk(directory, n, manifest, check) for n in names]
    frame = pd.concat(frames, ignore_index=True)
    return frame.sort_values(["point_id", "replicate", "step"], ignore_index=True)


def _read_chunk(directory: Path, name: str, manifest: dict[str, Any], check: bool) -> pd.DataFrame:
    path = directory / CHUNKS / name
    data = _read_bytes(path)
    if check:
        problem = _chunk_problem(name, manifest["chunks"][name], data, manifest)
        if problem:
            raise StoreError(f"{path}: {problem}; re-run the sweep to recompute it")
    if data is None:
        raise StoreError(f"{path}: missing or not a regular file; re-run the sweep")
    try:
        return pq.read_table(pa.BufferReader(data)).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise StoreError(f"{path}: unreadable chunk ({exc}); re-run the sweep") from None
