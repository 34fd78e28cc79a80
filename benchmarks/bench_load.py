"""Load: a sweep of 5,000 short runs on 2 workers, with the resident memory of the sweep
process sampled as runs accumulate.

The sweep is the real command line (``python -m sim sweep FILE --workers 2``) in a child
process. Every ``SAMPLE_SECONDS`` this module reads ``VmRSS`` from ``/proc/<pid>/status`` for
the sweep process and for each of its worker processes, and counts the chunk files written so
far (runs done = chunks x replicates per chunk). Rows:

* runs, wall time and throughput;
* the sweep process's RSS when 10%, 50% and 100% of the runs were done (the last sample at or
  below each fraction), and its growth from 10% to 100% (target: under 10%, i.e. flat: results are
  written as chunks, not held);
* the slope of a least-squares line through (runs done, RSS) from 10% on, in MiB per 1,000
  runs (target: under 1 MiB per 1,000 runs);
* the largest worker RSS seen.

``quick=True`` runs 1,000 runs instead of 5,000.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import Row, checked, row

NAME = "load"
ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SECONDS = 0.1
REPLICATES = 10
GROWTH_TARGET_PERCENT = 10.0
SLOPE_TARGET_MIB = 1.0

SWEEP = """\
name = "load"
description = "many short runs, for the memory benchmark"
base = "seed"
sampler = "lhs"
points = {points}
replicates = {replicates}
replicates_per_unit = {replicates}
steps = 20
record = "final"
root_seed = 5000
[fixed]
n_enterprises = 100
[parameters]
market_value = {{ range = [10, 2000], scale = "log" }}
home_fine = {{ range = [0, 500] }}
"""


_row = functools.partial(row, NAME)
_checked = functools.partial(checked, NAME)


def rss_mib(pid: int) -> float | None:
    """Resident set size of ``pid`` in MiB, ``None`` once it has exited."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (the sweep's worker processes)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children", encoding="utf-8") as handle:
            return [int(p) for p in handle.read().split()]
    except FileNotFoundError:
        return []


def sweep_with_memory(runs: int, workers: int = 2) -> dict[str, Any]:
    """Run the sweep in a child process; return samples of (runs done, sweep RSS) and more."""
    points = runs // REPLICATES
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        sweep = work / "load.toml"
        sweep.write_text(SWEEP.format(points=points, replicates=REPLICATES), encoding="utf-8")
        out = work / "out"
        chunks = out / "chunks"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        command = [sys.executable, "-m", "sim", "sweep", str(sweep), "--out", str(out)]
        command += ["--workers", str(workers), "--no-progress"]
        start = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        samples: list[tuple[int, float]] = []
        worker_peak = 0.0
        while proc.poll() is None:
            rss = rss_mib(proc.pid)
            done = len(list(chunks.glob("*.parquet"))) * REPLICATES if chunks.is_dir() else 0
            if rss is not None:
                samples.append((done, rss))
            for child in children(proc.pid):
                worker_peak = max(worker_peak, rss_mib(child) or 0.0)
            time.sleep(SAMPLE_SECONDS)
        wall = time.perf_counter() - start
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"sweep failed ({proc.returncode}): {err.decode()[-500:]}")
        stored = len(list(chunks.glob("*.parquet"))) * REPLICATES
        return {"runs": stored, "wall": wall, "samples": samples, "worker_peak": worker_peak}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _at(samples: list[tuple[int, float]], runs: float) -> float:
    """RSS of the last sample taken with at most ``runs`` done (the first one at or past it
    when none is below)."""
    below = [rss for done, rss in samples if done <= runs]
    return below[-1] if below else samples[0][1]


def run(quick: bool = False) -> list[Row]:
    total = 1_000 if quick else 5_000
    result = sweep_with_memory(total)
    samples = result["samples"]
    done_samples = [(d, r) for d, r in samples if d > 0]
    rss10 = _at(done_samples, 0.10 * total)
    rss50 = _at(done_samples, 0.50 * total)
    rss100 = done_samples[-1][1]
    growth = 100.0 * (rss100 - rss10) / rss10
    tail = np.array([(d, r) for d, r in done_samples if d >= 0.10 * total], dtype=float)
    slope = float(np.polyfit(tail[:, 0], tail[:, 1], 1)[0] * 1000) if len(tail) > 2 else 0.0
    load = os.getloadavg()[0]
    return [
        _checked(
            "runs stored",
            result["runs"],
            "runs",
            f"== {total}",
            result["runs"] == total,
        ),
        _row("wall time", round(result["wall"], 2), "s", workers=2, load_average=round(load, 2)),
        _row("throughput", round(result["runs"] / result["wall"], 1), "runs/s"),
        _row("sweep RSS at 10% of runs", round(rss10, 1), "MiB"),
        _row("sweep RSS at 50% of runs", round(rss50, 1), "MiB"),
        _row("sweep RSS at 100% of runs", round(rss100, 1), "MiB"),
        _checked(
            "sweep RSS growth 10% -> 100%",
            round(growth, 2),
            "%",
            f"< {GROWTH_TARGET_PERCENT}",
            growth < GROWTH_TARGET_PERCENT,
        ),
        _checked(
            "sweep RSS slope from 10%",
            round(slope, 3),
            "MiB/1000 runs",
            f"< {SLOPE_TARGET_MIB}",
            slope < SLOPE_TARGET_MIB,
        ),
        _row("largest worker RSS", round(result["worker_peak"], 1), "MiB"),
        _row("memory samples", len(samples), "samples", every_seconds=SAMPLE_SECONDS),
    ]
