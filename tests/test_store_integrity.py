"""Results that cannot be silently mixed, adopted, deleted or lost (issue 11).

Bad input and unusable output locations are refused like every row of
``tests/test_bad_input.py``: exit code 2, exactly one line on stderr starting ``error:`` that
holds the listed fragments, and nothing written, replaced or deleted (the digest of the row's
whole working directory is unchanged). The rows here run through :func:`sim.cli.main`
in-process, each in its own working directory holding a finished tiny sweep
(``results/tiny``), so fifty rows cost seconds; a few of them are also run as real
``python -m sim`` processes and must give the same outcome.

Then the store's promises, each on a real result:

* chunks carry their identity; chunks of another sweep (a lost manifest), of other model code
  or of nobody (a user's files) are never counted as done, never deleted without ``--force``,
  and files the tool did not write are never deleted, even with ``--force``;
* one writer per directory (an OS file lock, released on exit), two sweeps started at once
  never mix;
* resume across a model-code change is refused, with both fingerprints; invocations are
  appended, never overwritten;
* reads are checked by default (``load``, ``figures``) and name the chunk that is wrong;
* reaching a Dask scheduler is bounded as a whole (a loopback peer that accepts TCP and never
  answers), and a peer that answers garbage is "not a Dask scheduler".
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sim import cli
from sim.experiments import load, load_spec, plan, run_sweep, verify
from sim.experiments.figures import make_figures
from sim.experiments.provenance import (
    PACKAGE_ROOT,
    code_fingerprint,
    fingerprint_of,
    package_versions,
)
from sim.experiments.runners import Chunk, ChunkIdentity
from sim.experiments.store import LOCK, Store, StoreError
from tests.support import PYTHON, ROOT, subprocess_env, tree_digest

TIMEOUT_SECONDS = 120

TINY = """\
name = "tiny"
base = "seed"
sampler = "grid"
replicates = 2
replicates_per_unit = 1
steps = 3
record = 1
root_seed = {seed}
[fixed]
n_enterprises = 50
[parameters]
home_fine = {{ values = [0.0, {fine}] }}
"""
TINY_UNITS = 4
FIRST_CHUNK = "p000000-r00000-00000.parquet"


def tiny(seed: int = 7, fine: float = 50.0) -> str:
    return TINY.format(seed=seed, fine=fine)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete result of the tiny sweep."""
    base = tmp_path_factory.mktemp("finished")
    (base / "tiny.toml").write_text(tiny(), encoding="utf-8")
    run_sweep(load_spec(base / "tiny.toml"), base / "tiny", workers=1, progress=False)
    return base / "tiny"


@pytest.fixture(scope="module")
def other_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete result of another sweep (another root seed) with the same file names."""
    base = tmp_path_factory.mktemp("other")
    (base / "other.toml").write_text(tiny(seed=8), encoding="utf-8")
    run_sweep(load_spec(base / "other.toml"), base / "tiny", workers=1, progress=False)
    return base / "tiny"


def manifest_of(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def identities(directory: Path) -> set[tuple[str, str]]:
    """(sweep, code) fingerprints of every chunk file in ``directory``."""
    out = set()
    for path in (directory / "chunks").glob("*.parquet"):
        ident = ChunkIdentity.from_metadata(pq.read_metadata(path).metadata)
        assert ident is not None, path
        out.add((ident.sweep_sha256, ident.code_sha256))
    return out


# ---- the catalogue: one line, exit 2, nothing touched ------------------------------------------


@dataclass(frozen=True)
class Row:
    id: str
    argv: tuple[str, ...]
    expect: tuple[str, ...]
    setup: Callable[[Path, Path], None] | None = None  # (row directory, other sweep's result)


def _sweep(*args: str, file: str = "tiny.toml") -> tuple[str, ...]:
    return ("sweep", file, "--no-progress", "--workers", "1", *args)


def _dask(*args: str) -> tuple[str, ...]:
    return _sweep("--out", "fresh", "--backend", "dask", *args)


def _edit_manifest(change: Callable[[dict[str, Any]], None]) -> Callable[[Path, Path], None]:
    def setup(row: Path, other: Path) -> None:
        manifest = manifest_of(row / "results" / "tiny")
        change(manifest)
        write_manifest(row / "results" / "tiny", manifest)

    return setup


def _lose_manifest(row: Path, other: Path) -> None:
    (row / "results" / "tiny" / "manifest.json").unlink()


def _user_files_in_chunks(row: Path, other: Path) -> None:
    (row / "mydata" / "chunks").mkdir(parents=True)
    (row / "mydata" / "chunks" / "measurements.csv").write_text("a,b\n1,2\n")
    (row / "mydata" / "chunks" / "notes.txt").write_text("my notes\n")
    (row / "mydata" / "chunks" / "readings.parquet").write_bytes(b"PAR1 a user's data PAR1")


def _user_file_at_top(row: Path, other: Path) -> None:
    (row / "mydata").mkdir()
    (row / "mydata" / "survey.parquet").write_bytes(b"PAR1 not really\n")


def _directory_where_a_chunk_goes(row: Path, other: Path) -> None:
    chunk = row / "results" / "tiny" / "chunks" / FIRST_CHUNK
    chunk.unlink()
    chunk.mkdir()
    (chunk / "keep.txt").write_text("mine\n")


def _chunk_missing(row: Path, other: Path) -> None:
    (row / "results" / "tiny" / "chunks" / FIRST_CHUNK).unlink()


def _swap_in_other_sweeps_chunk(row: Path, other: Path) -> None:
    shutil.copyfile(
        other / "chunks" / FIRST_CHUNK, row / "results" / "tiny" / "chunks" / FIRST_CHUNK
    )


def _swap_and_rehash(row: Path, other: Path) -> None:
    """Another sweep's valid chunk, and the manifest's checksum and size edited to match it:
    only the chunk's identity tells."""
    _swap_in_other_sweeps_chunk(row, other)
    directory = row / "results" / "tiny"
    manifest = manifest_of(directory)
    manifest["chunks"][FIRST_CHUNK].update(manifest_of(other)["chunks"][FIRST_CHUNK])
    write_manifest(directory, manifest)


def _fifo(name: str) -> Callable[[Path, Path], None]:
    def setup(row: Path, other: Path) -> None:
        os.mkfifo(row / name)

    return setup


def _fifo_manifest(row: Path, other: Path) -> None:
    (row / "results" / "tiny" / "manifest.json").unlink()
    os.mkfifo(row / "results" / "tiny" / "manifest.json")


def _symlink(name: str, target: str) -> Callable[[Path, Path], None]:
    def setup(row: Path, other: Path) -> None:
        (row / name).symlink_to(target)

    return setup


def _null_device(row: Path, other: Path) -> None:
    """A character device like /dev/null (major 1, minor 3), made in the row's directory: the
    real /dev/null and /dev/stdout are never used, so a regression (run as root, as the tests
    are) cannot replace them."""
    try:
        os.mknod(row / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a character device needs root")


def _other_sweep_file(row: Path, other: Path) -> None:
    (row / "other.toml").write_text(tiny(seed=8), encoding="utf-8")
    (row / "values.toml").write_text(tiny(fine=60.0), encoding="utf-8")


def _both(*setups: Callable[[Path, Path], None]) -> Callable[[Path, Path], None]:
    def setup(row: Path, other: Path) -> None:
        for step in setups:
            step(row, other)

    return setup


def _set(key: str, value: Any) -> Callable[[Path, Path], None]:
    def change(manifest: dict[str, Any]) -> None:
        manifest[key] = value

    return _edit_manifest(change)


def _drop(key: str) -> Callable[[Path, Path], None]:
    return _edit_manifest(lambda manifest: manifest.pop(key))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


OUT_TINY = ("--out", "results/tiny")
ROWS = [
    # -- backend options
    Row(
        "connect-timeout-nan",
        _dask("--connect-timeout", "nan"),
        ("--connect-timeout", "nan", "> 0"),
    ),
    Row(
        "connect-timeout-negative",
        _dask("--connect-timeout", "-1"),
        ("--connect-timeout", "-1", "> 0"),
    ),
    Row(
        "connect-timeout-zero", _dask("--connect-timeout", "0"), ("--connect-timeout", "'0'", "> 0")
    ),
    Row(
        "connect-timeout-infinite",
        _dask("--connect-timeout", "inf"),
        ("--connect-timeout", "inf", "finite"),
    ),
    Row(
        "connect-timeout-huge",
        _dask("--connect-timeout", "1e308"),
        ("--connect-timeout", "1e308", "at most 86400"),
    ),
    Row(
        "connect-timeout-word",
        _dask("--connect-timeout", "soon"),
        ("--connect-timeout", "soon", "seconds"),
    ),
    Row("scheduler-empty", _dask("--scheduler", ""), ("--scheduler", "''", "tcp://HOST:PORT")),
    Row(
        "scheduler-no-port",
        _dask("--scheduler", "tcp://127.0.0.1"),
        ("--scheduler", "tcp://127.0.0.1", "tcp://HOST:PORT"),
    ),
    Row(
        "scheduler-other-scheme",
        _dask("--scheduler", "http://127.0.0.1:8786"),
        ("--scheduler", "http://127.0.0.1:8786", "tcp://HOST:PORT"),
    ),
    Row(
        "scheduler-port-out-of-range",
        _dask("--scheduler", "tcp://127.0.0.1:99999"),
        ("--scheduler", "99999", "tcp://HOST:PORT"),
    ),
    Row(
        "scheduler-refused",
        _dask("--scheduler", f"tcp://127.0.0.1:{_closed_port()}", "--connect-timeout", "3"),
        ("--scheduler", "tcp://127.0.0.1:", "cannot connect"),
    ),
    # -- results of another sweep, of other code, or of nobody
    Row(
        "adopt-other-root-seed",
        _sweep(*OUT_TINY, file="other.toml"),
        ("results/tiny", FIRST_CHUNK, "another sweep", "--force"),
        _both(_lose_manifest, _other_sweep_file),
    ),
    Row(
        "adopt-other-values",
        _sweep(*OUT_TINY, file="values.toml"),
        ("results/tiny", "another sweep", "--force"),
        _both(_lose_manifest, _other_sweep_file),
    ),
    Row(
        "resume-other-code",
        _sweep(*OUT_TINY),
        (
            "results/tiny",
            "model code 0123456789abcdef",
            code_fingerprint()[:16],
            "--force",
            "--out",
        ),
        _set("code_sha256", "0123456789abcdef" * 4),
    ),
    Row(
        "resume-store-without-code-fingerprints",
        _sweep(*OUT_TINY),
        ("results/tiny", "without code fingerprints", "--force"),
        _both(_set("format_version", 1), _drop("code_sha256")),
    ),
    Row(
        "user-files-in-chunks",
        _sweep("--out", "mydata"),
        ("--out mydata", "measurements.csv", "did not write", "--force"),
        _user_files_in_chunks,
    ),
    Row(
        "user-files-in-out",
        _sweep("--out", "mydata"),
        ("--out mydata", "survey.parquet", "did not write", "--force"),
        _user_file_at_top,
    ),
    Row(
        "directory-where-a-chunk-goes",
        _sweep(*OUT_TINY),
        (FIRST_CHUNK, "not a chunk this tool wrote", "move it away"),
        _directory_where_a_chunk_goes,
    ),
    Row(
        "directory-where-a-chunk-goes-forced",
        _sweep(*OUT_TINY, "--force"),
        (FIRST_CHUNK, "move it away"),
        _directory_where_a_chunk_goes,
    ),
    Row(
        "sweep-out-is-a-fifo",
        _sweep("--out", "pipe"),
        ("--out", "pipe", "not a writable directory"),
        _fifo("pipe"),
    ),
    Row(
        "sweep-out-dangling-symlink",
        _sweep("--out", "gone"),
        ("--out", "gone", "symlink to nothing"),
        _symlink("gone", "nowhere"),
    ),
    # -- manifests that are not what they should be
    Row(
        "manifest-chunks-not-a-table",
        _sweep(*OUT_TINY),
        ("manifest.json", "chunks=5", "expected a table"),
        _set("chunks", 5),
    ),
    Row(
        "manifest-chunk-name-a-path",
        _sweep(*OUT_TINY),
        ("manifest.json", "../../etc/passwd", "not a chunk file name"),
        _edit_manifest(
            lambda m: m["chunks"].update({"../../etc/passwd": m["chunks"][FIRST_CHUNK]})
        ),
    ),
    Row(
        "manifest-from-the-future",
        _sweep(*OUT_TINY),
        ("manifest.json", "format_version=3", "reads 1 and 2"),
        _set("format_version", 3),
    ),
    Row("manifest-is-a-fifo", _sweep(*OUT_TINY), ("manifest.json", "FIFO"), _fifo_manifest),
    # -- figures: checked reads
    Row(
        "figures-manifest-chunks-not-a-table",
        ("figures", "results/tiny"),
        ("manifest.json", "chunks=5", "expected a table"),
        _set("chunks", 5),
    ),
    Row(
        "figures-manifest-without-definition",
        ("figures", "results/tiny"),
        ("manifest.json", "definition", "missing"),
        _drop("definition"),
    ),
    Row(
        "figures-manifest-definition-garbage",
        ("figures", "results/tiny"),
        ("manifest.json", "definition", "not a valid sweep"),
        _set("definition", {"name": "tiny", "replicates": "many"}),
    ),
    Row(
        "figures-manifest-is-a-fifo",
        ("figures", "results/tiny"),
        ("manifest.json", "FIFO"),
        _fifo_manifest,
    ),
    Row(
        "figures-manifest-complete-but-short",
        ("figures", "results/tiny"),
        ("manifest.json", "says complete", "3 of 4"),
        _edit_manifest(lambda m: m["chunks"].pop(FIRST_CHUNK)),
    ),
    Row(
        "figures-chunk-listed-under-another-name",
        ("figures", "results/tiny"),
        ("p0000000-r00000-00000.parquet", "does not match its point"),
        _both(
            _edit_manifest(
                lambda m: m["chunks"].update(
                    {"p0000000-r00000-00000.parquet": m["chunks"].pop(FIRST_CHUNK)}
                )
            ),
            lambda row, other: shutil.copyfile(
                row / "results/tiny/chunks" / FIRST_CHUNK,
                row / "results/tiny/chunks/p0000000-r00000-00000.parquet",
            ),
        ),
    ),
    Row(
        "figures-chunk-missing",
        ("figures", "results/tiny"),
        (FIRST_CHUNK, "missing"),
        _chunk_missing,
    ),
    Row(
        "figures-chunk-missing-unchecked",
        ("figures", "results/tiny", "--no-check"),
        (FIRST_CHUNK, "missing"),
        _chunk_missing,
    ),
    Row(
        "figures-chunk-is-a-directory",
        ("figures", "results/tiny"),
        (FIRST_CHUNK, "not a regular file"),
        _directory_where_a_chunk_goes,
    ),
    Row(
        "figures-chunk-is-a-directory-unchecked",
        ("figures", "results/tiny", "--no-check"),
        (FIRST_CHUNK, "not a regular file"),
        _directory_where_a_chunk_goes,
    ),
    Row(
        "figures-chunk-of-another-sweep",
        ("figures", "results/tiny"),
        (FIRST_CHUNK, "checksum"),
        _swap_in_other_sweeps_chunk,
    ),
    Row(
        "figures-chunk-of-another-sweep-rehashed",
        ("figures", "results/tiny"),
        (FIRST_CHUNK, "another sweep"),
        _swap_and_rehash,
    ),
    # -- run --out: never replace what is not a regular file
    Row(
        "run-out-symlink",
        ("run", "--steps", "2", "--out", "link.parquet"),
        ("--out", "link.parquet", "symlink", "never replaced"),
        _symlink("link.parquet", "results/tiny/manifest.json"),
    ),
    Row(
        "run-out-dangling-symlink",
        ("run", "--steps", "2", "--out", "link.parquet"),
        ("--out", "link.parquet", "symlink"),
        _symlink("link.parquet", "nowhere.parquet"),
    ),
    Row(
        "run-out-fifo",
        ("run", "--steps", "2", "--out", "pipe"),
        ("--out", "pipe", "FIFO"),
        _fifo("pipe"),
    ),
    Row(
        "run-out-character-device",
        ("run", "--steps", "2", "--out", "null"),
        ("--out", "null", "character device", "never replaced"),
        _null_device,
    ),
    Row(
        "run-out-stdout-symlink",
        ("run", "--steps", "2", "--out", "stdout"),
        ("--out", "stdout", "symlink", "leave out --out"),
        _symlink("stdout", "/proc/self/fd/1"),
    ),
]


def prepare(row: Row, directory: Path, finished: Path, other: Path) -> str:
    directory.mkdir()
    shutil.copytree(finished, directory / "results" / "tiny")
    (directory / "tiny.toml").write_text(tiny(), encoding="utf-8")
    if row.setup is not None:
        row.setup(directory, other)
    return tree_digest(directory)


def test_catalogue_ids_unique() -> None:
    assert len({r.id for r in ROWS}) == len(ROWS) >= 30


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_bad_input_and_unusable_results_are_refused_cleanly(
    row: Row,
    tmp_path: Path,
    finished: Path,
    other_sweep: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = prepare(row, tmp_path / "row", finished, other_sweep)
    monkeypatch.chdir(tmp_path / "row")
    started = time.monotonic()
    code = cli.main(list(row.argv))
    elapsed = time.monotonic() - started
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    report = {"exit": code, "stderr": err[-2000:], "seconds": round(elapsed, 1)}
    assert code == 2, report
    assert len(lines) == 1 and lines[0].startswith("error: "), report
    missing = [f for f in row.expect if f.lower() not in lines[0].lower()]
    assert not missing, f"message lacks {missing}: {lines[0]}"
    assert tree_digest(tmp_path / "row") == before, f"files written or changed: {lines[0]}"
    assert elapsed < 10, report


FRESH_SAMPLE = ("connect-timeout-nan", "adopt-other-root-seed", "run-out-stdout-symlink")


@pytest.mark.parametrize("row_id", FRESH_SAMPLE)
def test_a_real_process_gives_the_same_outcome(
    row_id: str, tmp_path: Path, finished: Path, other_sweep: Path
) -> None:
    row = next(r for r in ROWS if r.id == row_id)
    before = prepare(row, tmp_path / "row", finished, other_sweep)
    proc = subprocess.run(
        [PYTHON, "-m", "sim", *row.argv],
        cwd=tmp_path / "row",
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and all(f.lower() in lines[0].lower() for f in row.expect), lines
    assert tree_digest(tmp_path / "row") == before


# ---- 1. identity: never adopted, never counted as done unless it matches ---------------------


def test_every_chunk_carries_its_identity(finished: Path) -> None:
    spec = load_spec(finished.parent / "tiny.toml")
    _, units = plan(spec)
    manifest = manifest_of(finished)
    assert manifest["code_sha256"] == code_fingerprint()
    for unit in units:
        meta = pq.read_metadata(finished / "chunks" / unit.chunk_name).metadata
        ident = ChunkIdentity.from_metadata(meta)
        assert ident == ChunkIdentity(
            spec.fingerprint(),
            code_fingerprint(),
            unit.point_id,
            (unit.first_replicate, unit.first_replicate + 1),
            unit.seeds,
        )
        assert meta[b"sim.seeds"] == json.dumps(list(unit.seeds)).encode()


def test_lost_manifest_adopts_only_chunks_of_the_same_sweep_and_code(
    finished: Path, other_sweep: Path, tmp_path: Path
) -> None:
    """The issue's first case: another sweep into a directory whose manifest was lost is
    refused (row ``adopt-other-root-seed``); the same sweep adopts its own chunks (0 new);
    ``--force`` starts again, removing only the store's own files."""
    spec = load_spec(finished.parent / "tiny.toml")
    out = tmp_path / "tiny"
    shutil.copytree(finished, out)
    (out / "manifest.json").unlink()
    again = run_sweep(spec, out, workers=1, progress=False)
    assert again.computed_runs == 0
    assert manifest_of(out)["status"] == "complete"
    pd.testing.assert_frame_equal(load(out), load(finished), check_exact=True)

    (out / "manifest.json").unlink()
    (out / "chunks" / "mine.txt").write_text("a user's file\n")
    other = load_spec(other_sweep.parent / "other.toml")
    with pytest.raises(StoreError, match="did not write"):
        run_sweep(other, out, workers=1, progress=False)
    forced = run_sweep(other, out, workers=1, progress=False, force=True)
    assert forced.computed_runs == TINY_UNITS
    assert identities(out) == {(other.fingerprint(), code_fingerprint())}
    assert (out / "chunks" / "mine.txt").read_text() == "a user's file\n"  # left alone
    pd.testing.assert_frame_equal(load(out), load(other_sweep), check_exact=True)


def test_unlisted_chunk_of_another_sweep_is_never_counted_as_done(
    finished: Path, other_sweep: Path, tmp_path: Path
) -> None:
    """A manifest of this sweep, and a chunk it does not list yet that is another sweep's
    (same name, same rows): refused, not adopted; with --force it is recomputed."""
    out = tmp_path / "tiny"
    shutil.copytree(finished, out)
    manifest = manifest_of(out)
    del manifest["chunks"][FIRST_CHUNK]
    manifest["status"] = "running"
    write_manifest(out, manifest)
    shutil.copyfile(other_sweep / "chunks" / FIRST_CHUNK, out / "chunks" / FIRST_CHUNK)
    spec = load_spec(finished.parent / "tiny.toml")
    with pytest.raises(StoreError, match="another sweep"):
        run_sweep(spec, out, workers=1, progress=False)
    assert run_sweep(spec, out, workers=1, progress=False, force=True).computed_runs == 1
    pd.testing.assert_frame_equal(load(out), load(finished), check_exact=True)


def test_chunk_computed_by_other_code_on_a_worker_is_refused(
    finished: Path, tmp_path: Path
) -> None:
    spec = load_spec(finished.parent / "tiny.toml")
    _, units = plan(spec)
    store = Store(tmp_path / "tiny", spec)
    store.open(units)
    try:
        store.begin(n_points=2, n_units=len(units), backend="dask", workers=1)
        data = (finished / "chunks" / units[0].chunk_name).read_bytes()
        with pytest.raises(StoreError, match="computed by model code ffffffffffffffff on a worker"):
            store.add(units[0], Chunk(data, 4, "0" * 64, "f" * 64))
        assert not (tmp_path / "tiny" / "chunks" / units[0].chunk_name).exists()
    finally:
        store.release()


# ---- 2. model code: fingerprint, refusal, appended records ------------------------------------


def test_code_fingerprint_changes_with_sources_scenarios_and_versions(tmp_path: Path) -> None:
    copy = tmp_path / "sim"
    shutil.copytree(PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    versions = package_versions()
    base = fingerprint_of(copy, versions)
    assert base == code_fingerprint()  # the same files as this process imported
    assert code_fingerprint() is code_fingerprint()  # computed once per process
    seen = {base}
    for relative in ("payoffs.py", "experiments/store.py", "scenarios/seed.toml"):
        path = copy / relative
        original = path.read_bytes()
        path.write_bytes(original + b"\n# changed\n")
        seen.add(fingerprint_of(copy, versions))
        path.write_bytes(original)
    (copy / "new_module.py").write_text("X = 1\n")
    seen.add(fingerprint_of(copy, versions))
    (copy / "new_module.py").unlink()
    assert fingerprint_of(copy, versions) == base
    for package in ("numpy", "scipy", "pandas", "pyarrow", "mesa", "networkx"):
        seen.add(fingerprint_of(copy, {**versions, package: "0.0.0"}))
    assert len(seen) == 1 + 4 + 6


def _sweep_proc(sweep: Path, out: Path, pythonpath: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "sim", "sweep", str(sweep), "--out", str(out), "--no-progress", *extra],
        env={**subprocess_env(), "PYTHONPATH": str(pythonpath)},
        cwd=pythonpath,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


SLOW = """\
name = "slow"
replicates = 2
replicates_per_unit = 1
steps = 300
record = 50
root_seed = 3
[fixed]
n_enterprises = 3000
[parameters]
market_value = { values = [30.0, 60.0, 120.0, 240.0, 480.0, 960.0] }
"""
SLOW_UNITS = 12


def _wait_for_chunks(proc: subprocess.Popen[str], out: Path, n: int, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while len(list((out / "chunks").glob("*.parquet")) if (out / "chunks").is_dir() else []) < n:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, f"no {n} chunks after {limit} s"
        time.sleep(0.01)


def test_resume_across_a_model_code_change_is_refused_and_records_are_appended(
    tmp_path: Path,
) -> None:
    """Kill a sweep, change the model code, re-run: refused with both fingerprints and the
    way out; ``--force`` starts again, and every invocation's record is kept."""
    code = tmp_path / "checkout"
    shutil.copytree(PACKAGE_ROOT, code / "sim", ignore=shutil.ignore_patterns("__pycache__"))
    sweep = tmp_path / "slow.toml"
    sweep.write_text(SLOW, encoding="utf-8")
    out = tmp_path / "results"
    old_code = fingerprint_of(code / "sim", package_versions())

    proc = _sweep_proc(sweep, out, code, "--workers", "1")
    _wait_for_chunks(proc, out, 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    first = manifest_of(out)
    assert first["status"] == "running" and first["code_sha256"] == old_code

    payoffs = code / "sim" / "payoffs.py"
    payoffs.write_text(payoffs.read_text() + "\n# a change to the model\n")
    new_code = fingerprint_of(code / "sim", package_versions())
    before = tree_digest(out)
    proc = _sweep_proc(sweep, out, code, "--workers", "1")
    _, err = proc.communicate(timeout=TIMEOUT_SECONDS)
    lines = err.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, err
    for fragment in (old_code[:16], new_code[:16], "--force", "--out", "two model versions"):
        assert fragment in lines[0], lines[0]
    assert tree_digest(out) == before  # nothing of the first run touched

    proc = _sweep_proc(sweep, out, code, "--workers", "2", "--force")
    _, err = proc.communicate(timeout=TIMEOUT_SECONDS)
    assert proc.returncode == 0, err
    manifest = manifest_of(out)
    assert manifest["status"] == "complete" and manifest["code_sha256"] == new_code
    assert identities(out) == {(manifest["sweep_sha256"], new_code)}
    runs = manifest["invocations"]
    assert runs[0] == first["invocations"][0]  # appended, never overwritten
    assert [r["code_sha256"] for r in runs] == [old_code, new_code]
    assert [r["outcome"] for r in runs] == ["running", "complete"]  # the first was killed
    assert runs[1]["replaced"]["code_sha256"] == old_code
    for record in runs:
        assert {"started", "pid", "git_commit", "git_dirty", "code_sha256"} <= set(record)


def test_each_invocation_is_appended(finished: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    shutil.copytree(finished, out)
    first = manifest_of(out)
    spec = load_spec(finished.parent / "tiny.toml")
    run_sweep(spec, out, workers=1, progress=False)
    run_sweep(spec, out, workers=1, progress=False)
    manifest = manifest_of(out)
    assert manifest["invocations"][0] == first["invocations"][0]
    assert len(manifest["invocations"]) == 3
    assert manifest["created"] == first["created"]
    assert manifest["environment"] == first["environment"]
    assert all(r["outcome"] == "complete" for r in manifest["invocations"])


# ---- 3. one writer per directory ----------------------------------------------------------------


def test_a_locked_directory_is_refused_naming_the_holder(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tiny"
    shutil.copytree(finished, out)
    (out / LOCK).write_text("999999\n")  # a stale record: the kernel's lock table decides
    spec = load_spec(finished.parent / "tiny.toml")
    holder = Store(out, spec)
    holder.open(plan(spec)[1])
    try:
        before = tree_digest(out)
        code = cli.main(["sweep", str(finished.parent / "tiny.toml"), "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1, err
        assert f"PID {os.getpid()}" in err and "in use" in err, err
        assert tree_digest(out) == before
    finally:
        holder.release()
    assert cli.main(["sweep", str(finished.parent / "tiny.toml"), "--out", str(out)]) == 0


def test_a_fresh_directory_refused_later_leaves_no_lock_behind(tmp_path: Path) -> None:
    """The lock is taken before anything else; when the sweep cannot start (here: nothing
    listens on the scheduler's port) the directory made to hold the lock is removed."""
    sweep = tmp_path / "tiny.toml"
    sweep.write_text(tiny(), encoding="utf-8")
    argv = [str(sweep), "--out", str(tmp_path / "a" / "b"), "--backend", "dask"]
    argv += ["--scheduler", f"tcp://127.0.0.1:{_closed_port()}", "--no-progress"]
    assert cli.main(["sweep", *argv]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.toml"]


def test_the_lock_dies_with_the_process(tmp_path: Path) -> None:
    sweep = tmp_path / "slow.toml"
    sweep.write_text(SLOW, encoding="utf-8")
    out = tmp_path / "slow"
    proc = _sweep_proc(sweep, out, ROOT, "--workers", "2")
    _wait_for_chunks(proc, out, 1)
    assert (out / LOCK).read_text().strip() == str(proc.pid)
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up at all
    proc.wait(timeout=30)
    result = run_sweep(load_spec(sweep), out, workers=2, progress=False)
    assert result.computed_runs < SLOW_UNITS * 1
    assert manifest_of(out)["status"] == "complete"


def test_two_sweeps_started_at_once_never_mix(tmp_path: Path) -> None:
    """The issue's second case: two definitions started together into one directory on the
    Dask backend. Exactly one runs; the other exits 2 with one line; every chunk is the
    winner's."""
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(SLOW, encoding="utf-8")
    b.write_text(SLOW.replace("root_seed = 3", "root_seed = 4"), encoding="utf-8")
    out = tmp_path / "shared"
    extra = ("--backend", "dask", "--workers", "1")
    procs = {f: _sweep_proc(f, out, ROOT, *extra) for f in (a, b)}
    results = {
        f: (p.wait(timeout=TIMEOUT_SECONDS), p.stderr.read() if p.stderr else "")
        for f, p in procs.items()
    }
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 2], results
    winner = next(f for f, (code, _) in results.items() if code == 0)
    loser_err = next(err for code, err in results.values() if code == 2)
    lines = loser_err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --out"), loser_err
    if "in use by another sweep" in lines[0]:  # the usual outcome: both start within ~1 s
        assert f"PID {procs[winner].pid} holds its lock" in lines[0], lines[0]
    else:  # the loser started after the winner had finished
        assert "different sweep definition" in lines[0], lines[0]
    manifest = manifest_of(out)
    assert manifest["status"] == "complete"
    assert manifest["sweep_sha256"] == load_spec(winner).fingerprint()
    assert identities(out) == {(manifest["sweep_sha256"], manifest["code_sha256"])}
    assert verify(out) == []


# ---- 4. nothing of the user's is deleted or replaced -------------------------------------------


def test_user_files_are_left_alone_even_with_force(tmp_path: Path) -> None:
    mydata = tmp_path / "mydata"
    (mydata / "chunks").mkdir(parents=True)
    (mydata / "chunks" / "measurements.csv").write_text("a,b\n1,2\n")
    (mydata / "chunks" / "readings.parquet").write_bytes(b"PAR1 a user's data PAR1")
    (mydata / "survey.parquet").write_bytes(b"mine")
    sweep = tmp_path / "tiny.toml"
    sweep.write_text(tiny(), encoding="utf-8")
    before = tree_digest(mydata)
    with pytest.raises(StoreError, match="did not write"):
        run_sweep(load_spec(sweep), mydata, workers=1, progress=False)
    assert tree_digest(mydata) == before
    run_sweep(load_spec(sweep), mydata, workers=1, progress=False, force=True)
    assert (mydata / "chunks" / "measurements.csv").read_text() == "a,b\n1,2\n"
    assert (mydata / "chunks" / "readings.parquet").read_bytes() == b"PAR1 a user's data PAR1"
    assert (mydata / "survey.parquet").read_bytes() == b"mine"
    assert manifest_of(mydata)["status"] == "complete"
    # a results directory may hold the user's notes: resuming leaves them alone
    (mydata / "notes.md").write_text("analysis notes\n")
    assert run_sweep(load_spec(sweep), mydata, workers=1, progress=False).computed_runs == 0
    assert (mydata / "notes.md").read_text() == "analysis notes\n"


# ---- 5. checked reads ----------------------------------------------------------------------------


def test_load_checks_by_default_and_names_the_wrong_chunk(
    finished: Path, other_sweep: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tiny"
    shutil.copytree(finished, out)
    shutil.copyfile(other_sweep / "chunks" / FIRST_CHUNK, out / "chunks" / FIRST_CHUNK)
    with pytest.raises(StoreError, match=f"{FIRST_CHUNK}: fails its checksum"):
        load(out)
    assert verify(out) == [FIRST_CHUNK]
    unchecked = load(out, check=False)  # the opt-out reads it, as asked
    assert len(unchecked) == len(load(finished))
    manifest = manifest_of(out)
    manifest["chunks"][FIRST_CHUNK].update(manifest_of(other_sweep)["chunks"][FIRST_CHUNK])
    write_manifest(out, manifest)
    with pytest.raises(StoreError, match=f"{FIRST_CHUNK}: belongs to another sweep"):
        load(out)
    with pytest.raises(StoreError, match="another sweep"):
        make_figures(out)
    assert not (out / "figures").exists()
    assert make_figures(out, check=False)  # the opt-out draws


def test_load_of_a_first_version_result_checks_checksums(finished: Path, tmp_path: Path) -> None:
    """A result written before chunk identities (format 1) still loads, checksum-checked."""
    out = tmp_path / "tiny"
    shutil.copytree(finished, out)
    manifest = manifest_of(out)
    manifest["format_version"] = 1
    del manifest["code_sha256"]
    write_manifest(out, manifest)
    pd.testing.assert_frame_equal(load(out), load(finished), check_exact=True)


# ---- 7. reaching a scheduler: bounded as a whole, garbage is not Dask ---------------------------


@contextmanager
def fake_peer(behaviour: str) -> Iterator[int]:
    """A TCP server on 127.0.0.1 that accepts every connection and then ``silent``: never
    sends a byte; ``garbage``: sends bytes that are not Dask's protocol and keeps the line
    open; ``garbage-close``: sends an HTTP error line and closes."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.05)
    stop = threading.Event()
    open_conns: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            if behaviour == "garbage":
                conn.sendall(bytes(range(256)) * 4)
            elif behaviour == "garbage-close":
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                conn.close()
                continue
            open_conns.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(5)
        for conn in open_conns:
            conn.close()
        server.close()


@pytest.mark.parametrize(
    ("behaviour", "expect"),
    [
        pytest.param("silent", ("no answer within --connect-timeout 2 s",), id="silent-peer"),
        pytest.param("garbage", ("not a Dask scheduler",), id="garbage-peer"),
        pytest.param("garbage-close", ("not a Dask scheduler",), id="garbage-then-close"),
    ],
)
def test_a_peer_that_is_not_a_dask_scheduler_is_one_line_within_the_timeout(
    behaviour: str,
    expect: tuple[str, ...],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "tiny.toml").write_text(tiny(), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    before = tree_digest(tmp_path)
    with fake_peer(behaviour) as port:
        address = f"tcp://127.0.0.1:{port}"
        # in a thread, so that a hang fails the test instead of hanging the suite
        result: list[int] = []
        runner = threading.Thread(
            target=lambda: result.append(
                cli.main([*_dask("--scheduler", address, "--connect-timeout", "2")])
            ),
            daemon=True,
        )
        started = time.monotonic()
        runner.start()
        runner.join(30)
        elapsed = time.monotonic() - started
        assert result, f"still connecting after {elapsed:.0f} s with --connect-timeout 2"
        code = result[0]
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith(f"error: --scheduler {address}: "), err
    assert all(f in lines[0] for f in expect), lines[0]
    assert "MemoryError" not in err or "not a Dask scheduler" in err
    assert elapsed < 2 + 2.5, f"took {elapsed:.1f} s with --connect-timeout 2"
    assert tree_digest(tmp_path) == before
