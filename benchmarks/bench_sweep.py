"""The sweep runner (:func:`sim.experiments.run_sweep`): its overhead and its parallel speed-up.

Rows (medians over repeats):

* runner overhead: a sweep of single-run work units (the worst case: every run is its own
  chunk, manifest entry and checksum) of about 0.1 s or more each, run in this process
  (``--workers 1``), with every :func:`sim.batch.run_batch` call inside it timed, its model
  frame included (built lazily since version 2; it used to be built inside ``run_batch``);
  overhead = (sweep time - time inside ``run_batch``) / time inside ``run_batch``: planning,
  seeding, the sweep's own frame, Parquet writes, checksums, chunk identities and the
  manifest. Target under 5%.
  Timed in this process's CPU time, which other work on a shared machine does not inflate;
* throughput in runs per second (wall clock, since the work happens in worker processes)
  with 1 and 2 local workers on the same sweep, measured in alternation, and the median of
  the paired ratios
  (target: 2 workers at least 1.8 times 1 worker). This needs two idle cores; on a machine
  shared with other work the ratio drops, so the row reports the load average beside it;
* the CPU time (this process and its worker processes, user + system) the 2-worker sweep
  spends, relative to the 1-worker sweep: what the pool costs beyond the runs themselves
  (forking, pickling, waiting), which other work on the machine does not inflate the way it
  inflates wall time. 1.0 means a free pool.
"""

from __future__ import annotations

import functools
import os
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import Row, checked, row
from sim.batch import run_batch
from sim.experiments import plan, run_sweep, runners
from sim.experiments.spec import SweepSpec, spec_from_mapping

NAME = "sweep"


_row = functools.partial(row, NAME)
_checked = functools.partial(checked, NAME)


def _spec(points: int, replicates: int, steps: int, enterprises: int) -> SweepSpec:
    return spec_from_mapping(
        {
            "base": "seed",
            "sampler": "grid",
            "replicates": replicates,
            "replicates_per_unit": 1,
            "steps": steps,
            "record": 1,
            "root_seed": 1,
            "fixed": {"n_enterprises": enterprises},
            "parameters": {
                "market_value": {"range": [50.0, 500.0], "levels": points, "scale": "log"}
            },
        },
        name="bench",
    )


def _sweep_seconds(spec: SweepSpec, workers: int, clock: Callable[[], float]) -> float:
    out = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    try:
        start = clock()
        run_sweep(spec, out / "s", workers=workers, progress=False)
        return clock() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished (reaped) children."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _overhead_percent(spec: SweepSpec) -> tuple[float, float]:
    """Run ``spec`` in this process with every ``run_batch`` call timed: returns the runner's
    overhead (CPU time of the sweep outside ``run_batch``, as % of the time inside) and the
    mean CPU seconds per run. Timing the same calls removes run-to-run noise."""
    inside = [0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            result = run_batch(*args, **kwargs)
            # the model frame is built lazily; it is the runs' output, as it was when
            # run_batch returned it directly, so it counts as inside (the sweep reads it next)
            result.model  # noqa: B018
            return result
        finally:
            inside[0] += time.process_time() - start

    original = runners.run_batch
    runners.run_batch = timed
    try:
        total = _sweep_seconds(spec, 1, time.process_time)
    finally:
        runners.run_batch = original
    runs = len(plan(spec)[1])
    return (total - inside[0]) / inside[0] * 100.0, inside[0] / runs


OVERHEAD_STEPS = 300


def run(quick: bool = False) -> list[Row]:
    """All rows; ``quick`` measures once instead of taking the median of three."""
    repeats = 1 if quick else 3
    points = 12
    # 300 months of 5,000 enterprises: runs of about 0.1 s, the size the target speaks of
    overhead_spec = _spec(points, 1, steps=OVERHEAD_STEPS, enterprises=5_000)
    measured = [_overhead_percent(overhead_spec) for _ in range(repeats)]
    overhead = statistics.median(m[0] for m in measured)
    per_run = statistics.median(m[1] for m in measured)

    # a sweep of about 5 s on one worker: long enough that starting and joining the pool
    # (tens of milliseconds) does not stand in for the throughput being compared
    scaling_points = 2 * points
    scaling_spec = _spec(scaling_points, 2, steps=OVERHEAD_STEPS, enterprises=5_000)
    n_runs = scaling_points * 2
    # 1 and 2 workers measured in alternation, so both see the same machine state; the ratio
    # is the median of the paired ratios
    pairs = [
        (
            _sweep_seconds(scaling_spec, 1, time.perf_counter),
            _sweep_seconds(scaling_spec, 2, time.perf_counter),
        )
        for _ in range(1 if quick else 5)
    ]
    one = statistics.median(p[0] for p in pairs)
    two = statistics.median(p[1] for p in pairs)
    speedup = statistics.median(p[0] / p[1] for p in pairs)
    # the pool's workers are joined when the sweep ends, so their CPU time is counted
    cpu_one = statistics.median(
        _sweep_seconds(scaling_spec, 1, _cpu_seconds) for _ in range(repeats)
    )
    cpu_two = statistics.median(
        _sweep_seconds(scaling_spec, 2, _cpu_seconds) for _ in range(repeats)
    )
    load = round(os.getloadavg()[0], 2)
    return [
        _row(f"CPU seconds per run (5,000 enterprises, {OVERHEAD_STEPS} months)", per_run, "s"),
        _checked(
            f"runner overhead, {points} single-run units, 1 worker",
            overhead,
            "%",
            "< 5",
            bool(overhead < 5.0),
        ),
        _row(f"throughput, 1 local worker ({n_runs} runs)", n_runs / one, "runs/s"),
        _row(f"throughput, 2 local workers ({n_runs} runs)", n_runs / two, "runs/s"),
        _checked(
            f"2-worker / 1-worker throughput (load average {load})",
            speedup,
            "x",
            ">= 1.8",
            bool(speedup >= 1.8),
        ),
        _row("CPU time, 2 local workers / 1 local worker (all processes)", cpu_two / cpu_one, "x"),
    ]
