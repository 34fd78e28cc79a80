"""Faults survived, nothing lost; and determinism of the sweep runner.

Every fault below is driven through the real command line (``python -m sim sweep``) or its
entry point :func:`sim.cli.main`, and every recovered result is compared exactly (chunk
checksums and frames) with an uninterrupted serial run of the same sweep file:

* the sweep's process group killed with SIGKILL at random points, several times in a row
  (kill points drawn from a seeded generator: during start-up, or after a random number of new
  chunks plus a random delay, so some kills land mid-write); re-running completes with exactly
  the expected runs;
* a Dask worker process killed (SIGKILL) while the sweep runs on a ``LocalCluster`` of worker
  processes on 127.0.0.1: the sweep completes, data identical;
* chunk files truncated, altered (a byte flipped; another valid chunk copied over it, which
  only the checksum can tell), deleted, or truncated before the manifest listed them: each
  detected, warned about on stderr and recomputed;
* the disk filling up (``ENOSPC``) mid-sweep, while writing a chunk or the manifest: one clear
  error line and exit code 1, no partial or temporary file left, the store readable, and a
  re-run resumes to the uninterrupted result.  Tests run as root, where ``chmod`` does not stop
  writes, so the failure is injected in-process into the store's atomic write: half the bytes
  reach the temporary file, then ``OSError(ENOSPC)``, as a full disk does.

* the sweep asked to stop: SIGTERM to the sweep process alone, or SIGINT to its whole process
  group (what Ctrl-C on a terminal does), on 2 local workers: exit code 143 or 130, one line
  saying how to resume, no pool worker left running, the manifest still ``running``; the
  command the line gives resumes to the uninterrupted result;
* ``--scheduler`` pointing at a Dask worker instead of the scheduler: one line, exit code 2.

Determinism: the same root seed gives byte-identical chunks when run twice, with 1 or 3 local
workers and on a 3-worker Dask cluster (``tests/test_experiments_runner.py`` covers serial,
2 local workers and 2 Dask workers on frames).
"""

from __future__ import annotations

import errno
import json
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import distributed
import numpy as np
import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest

from sim import cli
from sim.experiments import load, load_spec, plan, run_sweep, verify
from sim.experiments import store as store_module
from tests.support import PYTHON, subprocess_env

KILL_SEED = 20241124
POLL_SECONDS = 0.005

# Units heavy enough (about 0.2 s each) that a kill after a few chunks lands mid-sweep: with
# 10 ms units the rest of the sweep could finish inside the random delay before the kill.
SWEEP_TOML = """\
name = "faults"
base = "seed"
sampler = "grid"
replicates = 3
replicates_per_unit = 1
steps = 300
record = 75
root_seed = 31337
[fixed]
n_enterprises = 2000
[parameters]
market_value = { range = [20, 2000], levels = 8, scale = "log" }
"""
N_UNITS = 8 * 3
EXPECTED_RUNS = {(p, r) for p in range(8) for r in range(3)}


@pytest.fixture(scope="module")
def sweep_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "faults.toml"
    path.write_text(SWEEP_TOML, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def baseline(sweep_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted serial result every fault is compared with."""
    out = tmp_path_factory.mktemp("baseline") / "faults"
    run_sweep(load_spec(sweep_file), out, workers=1, progress=False)
    return out


def checksums(directory: Path) -> dict[str, str]:
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    return {name: entry["sha256"] for name, entry in manifest["chunks"].items()}


def assert_same_result(directory: Path, baseline: Path) -> None:
    """Complete, exactly the expected runs, byte-identical chunks, identical frame."""
    manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "complete"
    assert verify(directory) == []
    assert not list((directory / "chunks").glob(".tmp-*")), "temporary files left behind"
    assert sorted(p.name for p in (directory / "chunks").glob("*.parquet")) == sorted(
        checksums(baseline)
    )
    frame = load(directory, check=True)
    runs = frame[["point_id", "replicate"]].drop_duplicates()
    assert len(runs) == len(EXPECTED_RUNS)
    assert set(map(tuple, runs.to_numpy().tolist())) == EXPECTED_RUNS
    assert not frame.duplicated(["point_id", "replicate", "step"]).any()
    assert checksums(directory) == checksums(baseline)
    pd.testing.assert_frame_equal(frame, load(baseline), check_exact=True)


def start_sweep(sweep_file: Path, out: Path, *extra: str) -> subprocess.Popen[str]:
    """``python -m sim sweep`` in its own process group (so a kill takes its workers too)."""
    return subprocess.Popen(
        [PYTHON, "-m", "sim", "sweep", str(sweep_file), "--out", str(out), "--no-progress", *extra],
        env=subprocess_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def chunk_count(out: Path) -> int:
    chunks = out / "chunks"
    return len(list(chunks.glob("*.parquet"))) if chunks.is_dir() else 0


def wait_for_chunks(proc: subprocess.Popen[str], out: Path, target: int, limit: float) -> None:
    deadline = time.monotonic() + limit
    while chunk_count(out) < target:
        assert proc.poll() is None, f"sweep ended before {target} chunks: {proc.stderr}"
        assert time.monotonic() < deadline, f"no {target} chunks after {limit} s"
        time.sleep(POLL_SECONDS)


def kill_group(proc: subprocess.Popen[str]) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def test_sweep_killed_at_random_points_resumes_to_the_uninterrupted_result(
    sweep_file: Path, baseline: Path, tmp_path: Path
) -> None:
    rng = np.random.default_rng(KILL_SEED)
    out = tmp_path / "faults"
    kills = []
    # trial 0 lands during start-up (import, plan, resume check); the others after a random
    # number of new chunks plus a random delay, which often falls inside a chunk's write
    plans = [("startup", 0, float(rng.uniform(0.05, 1.0)))]
    plans += [("chunks", int(rng.integers(1, 5)), float(rng.uniform(0.0, 0.08))) for _ in range(4)]
    for kind, new_chunks, delay in plans:
        before = chunk_count(out)
        proc = start_sweep(sweep_file, out, "--workers", "2")
        if kind == "chunks":
            wait_for_chunks(proc, out, before + new_chunks, limit=60)
        time.sleep(delay)
        assert proc.poll() is None, "the sweep finished before the kill"
        kill_group(proc)
        assert proc.returncode == -signal.SIGKILL
        kills.append((kind, before, chunk_count(out)))
        if (out / "manifest.json").exists():
            manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
            assert manifest["status"] == "running", "a killed sweep must never look complete"
        for chunk in (out / "chunks").glob("*.parquet") if (out / "chunks").is_dir() else []:
            assert pq.read_metadata(chunk).num_rows == 5, f"{chunk.name} partial"
    assert chunk_count(out) < N_UNITS, f"kills landed too late: {kills}"
    assert sum(after > before for _, before, after in kills) >= 3, kills

    proc = start_sweep(sweep_file, out, "--workers", "2")
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    assert_same_result(out, baseline)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["invocations"]) >= 2  # resumed, not restarted from scratch


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    """Three single-threaded worker processes on loopback (restarted by their nannies)."""
    with (
        distributed.LocalCluster(
            n_workers=3,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=50,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield cluster, client


def test_dask_worker_killed_mid_sweep_loses_nothing(
    sweep_file: Path, baseline: Path, tmp_path: Path, dask_cluster: Any
) -> None:
    cluster, client = dask_cluster
    pids = client.run(os.getpid)
    assert len(pids) == 3 and all(a.startswith("tcp://127.0.0.1:") for a in pids)
    victim = sorted(pids.values())[0]
    out = tmp_path / "faults"
    proc = start_sweep(
        sweep_file, out, "--backend", "dask", "--scheduler", cluster.scheduler_address
    )
    wait_for_chunks(proc, out, 2, limit=90)
    os.kill(victim, signal.SIGKILL)
    killed_at = chunk_count(out)
    assert killed_at < N_UNITS and proc.poll() is None, "the kill must land mid-sweep"
    assert proc.wait(timeout=120) == 0, proc.stderr.read() if proc.stderr else ""
    assert victim not in client.run(os.getpid).values()
    assert_same_result(out, baseline)


def test_dask_worker_address_is_not_a_scheduler(
    sweep_file: Path, tmp_path: Path, dask_cluster: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _, client = dask_cluster
    worker = sorted(client.scheduler_info()["workers"])[0]
    out = tmp_path / "faults"
    argv = ["sweep", str(sweep_file), "--out", str(out), "--backend", "dask"]
    code = cli.main([*argv, "--scheduler", worker, "--connect-timeout", "5", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"--scheduler {worker}: not a Dask scheduler (a Dask Worker answered)" in err, err
    assert not out.exists()


# ---- stopped by a signal ----------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize(
    ("how", "exit_code"),
    [
        pytest.param("sigterm-to-the-sweep", 143, id="sigterm-to-the-sweep"),
        pytest.param("sigint-to-the-group", 130, id="sigint-to-the-group"),
    ],
)
def test_signal_stops_the_pool_workers_and_the_sweep_resumes(
    how: str, exit_code: int, sweep_file: Path, baseline: Path, tmp_path: Path
) -> None:
    out = tmp_path / "faults"
    proc = start_sweep(sweep_file, out, "--workers", "2")
    wait_for_chunks(proc, out, 2, limit=60)
    deadline = time.monotonic() + 10
    while len(workers := psutil.Process(proc.pid).children(recursive=True)) < 2:
        assert time.monotonic() < deadline, "no pool workers seen"
        time.sleep(POLL_SECONDS)
    pids = [w.pid for w in workers]
    if how == "sigterm-to-the-sweep":
        os.kill(proc.pid, signal.SIGTERM)  # the sweep alone: its workers must be stopped by it
    else:
        os.killpg(proc.pid, signal.SIGINT)  # the whole group, as Ctrl-C on a terminal
    assert proc.wait(timeout=30) == exit_code
    err = proc.stderr.read() if proc.stderr else ""
    stopped_at = chunk_count(out)
    assert stopped_at < N_UNITS, "the signal must land mid-sweep"
    lines = err.strip().splitlines()
    name = "SIGTERM" if exit_code == 143 else "SIGINT"
    assert len(lines) == 1 and lines[0].startswith(f"interrupted by {name}"), err
    assert "resume with: python -m sim sweep" in lines[0], err
    deadline = time.monotonic() + 5
    while [p for p in pids if _alive(p)] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if _alive(p)], "pool workers left running"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "running"
    assert manifest["invocations"][-1]["outcome"] == "interrupted"
    assert not list((out / "chunks").glob(".tmp-*"))
    for chunk in (out / "chunks").glob("*.parquet"):
        assert store_module.sha256_file(chunk) == checksums(baseline)[chunk.name]
    if how == "sigterm-to-the-sweep":  # the printed command resumes the sweep
        command = shlex.split(lines[0].split("resume with: ", 1)[1])
        assert command[:3] == ["python", "-m", "sim"]
        resumed = subprocess.run(
            [PYTHON, *command[1:]],
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        assert f"({N_UNITS - stopped_at} new)" in resumed.stderr, resumed.stderr
        assert_same_result(out, baseline)


# ---- damaged chunks -----------------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 3] ^= 0x01
    path.write_bytes(bytes(raw))


def test_damaged_chunks_are_detected_warned_and_recomputed(
    sweep_file: Path, baseline: Path, tmp_path: Path
) -> None:
    out = tmp_path / "faults"
    shutil.copytree(baseline, out)
    names = sorted(checksums(out))
    chunks = out / "chunks"
    truncated, flipped, swapped, deleted, unlisted = (
        names[1],
        names[5],
        names[9],
        names[13],
        names[20],
    )
    _truncate(chunks / truncated)
    _flip_byte(chunks / flipped)
    # a valid Parquet file with the right number of rows, but another unit's data
    shutil.copyfile(chunks / names[0], chunks / swapped)
    assert pq.read_metadata(chunks / swapped).num_rows == 5
    (chunks / deleted).unlink()
    # written but not yet listed when the manifest was last flushed, and then cut short
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    del manifest["chunks"][unlisted]
    manifest["status"] = "running"
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    _truncate(chunks / unlisted)

    proc = subprocess.run(
        [PYTHON, "-m", "sim", "sweep", str(sweep_file), "--out", str(out), "--no-progress"],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
    for name in (truncated, flipped, swapped):
        assert any(name in w and "checksum" in w for w in warnings), (name, proc.stderr)
    assert any(unlisted in w for w in warnings), proc.stderr
    assert "5 new" in proc.stderr, proc.stderr  # exactly the five damaged or missing units
    assert_same_result(out, baseline)


def test_damaged_manifest_is_a_clear_error_and_touches_no_chunk(
    sweep_file: Path, baseline: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "faults"
    shutil.copytree(baseline, out)
    manifest = out / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:100])
    before = {p.name: p.read_bytes() for p in (out / "chunks").iterdir()}
    code = cli.main(["sweep", str(sweep_file), "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "manifest.json" in err and "unreadable" in err, err
    assert {p.name: p.read_bytes() for p in (out / "chunks").iterdir()} == before


# ---- disk full mid-sweep --------------------------------------------------------------------


class DiskFull:
    """Replacement for the store's atomic write that fails like a full disk on the ``nth``
    write of the chosen kind (``chunk``; ``manifest``; ``final-manifest``, the one marking
    the sweep complete): half the bytes reach the temporary file, then ENOSPC."""

    def __init__(self, kind: str, nth: int) -> None:
        self.kind, self.nth, self.seen = kind, nth, 0
        self.original = store_module.atomic_write_bytes
        self.fired = False

    def _matches(self, path: Path, data: bytes) -> bool:
        if path.name != store_module.MANIFEST:
            return self.kind == "chunk"
        if self.kind == "final-manifest":
            return json.loads(data)["status"] == "complete"
        return self.kind == "manifest"

    def __call__(self, path: Path, write: Any, **options: Any) -> None:
        def maybe_fail(tmp: Path) -> None:
            write(tmp)
            data = tmp.read_bytes()
            if self.fired or not self._matches(path, data):
                return
            self.seen += 1
            if self.seen == self.nth:
                self.fired = True
                tmp.write_bytes(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp))

        self.original(path, maybe_fail, **options)


@pytest.mark.parametrize(
    ("kind", "nth"),
    [
        pytest.param("chunk", 1, id="first-chunk"),
        pytest.param("chunk", 7, id="seventh-chunk"),
        pytest.param("manifest", 1, id="manifest-at-start"),
        pytest.param("final-manifest", 1, id="manifest-at-finish"),
    ],
)
def test_disk_full_mid_sweep_is_a_clear_error_and_the_store_resumes(
    kind: str,
    nth: int,
    sweep_file: Path,
    baseline: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "faults"
    argv = ["sweep", str(sweep_file), "--out", str(out), "--no-progress", "--workers", "1"]
    full = DiskFull(kind, nth)
    with monkeypatch.context() as patch:
        patch.setattr(store_module, "atomic_write_bytes", full)
        code = cli.main(argv)
    err = capsys.readouterr().err
    assert full.fired
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "No space left on device" in lines[0], err

    # nothing partial, nothing temporary, and what is there reads back as baseline data
    assert not [p.name for p in out.rglob(".tmp-*")]
    if (out / "manifest.json").exists():
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["status"] == "running"
        assert verify(out) == []
        with pytest.warns(UserWarning, match="not complete"):
            partial = load(out, check=True)
        expected = load(baseline)
        if len(partial):
            keyed = partial.merge(expected, how="left", indicator=True)
            assert (keyed["_merge"] == "both").all(), "stored rows differ from the baseline"
    for chunk in (out / "chunks").glob("*.parquet"):
        assert store_module.sha256_file(chunk) == checksums(baseline)[chunk.name]

    assert cli.main(argv) == 0, capsys.readouterr().err
    assert_same_result(out, baseline)


# ---- determinism ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"workers": 1}, id="serial-repeated"),
        pytest.param({"workers": 3}, id="local-3-workers"),
    ],
)
def test_same_root_seed_gives_byte_identical_chunks_locally(
    options: dict[str, Any], sweep_file: Path, baseline: Path, tmp_path: Path
) -> None:
    out = tmp_path / "faults"
    run_sweep(load_spec(sweep_file), out, progress=False, **options)
    assert_same_result(out, baseline)


def test_same_root_seed_gives_byte_identical_chunks_on_three_dask_workers(
    sweep_file: Path, baseline: Path, tmp_path: Path, dask_cluster: Any
) -> None:
    cluster, _ = dask_cluster
    out = tmp_path / "faults"
    spec = load_spec(sweep_file)
    run_sweep(spec, out, backend="dask", scheduler=cluster.scheduler_address, progress=False)
    assert_same_result(out, baseline)
    _, units = plan(spec)
    assert len(units) == N_UNITS
