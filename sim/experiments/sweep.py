"""Run a sweep: plan its work units, skip those already stored, run the rest, store each.

Order of checks, so bad input never leaves a half-written result: the sweep file is validated
and every point's parameters built (:class:`ValueError`); the output directory is checked
(:class:`~sim.experiments.store.StoreError`) without creating anything; the backend is
connected (:class:`~sim.experiments.runners.BackendError`); only then are the directories made
and the manifest written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.experiments import runners
from sim.experiments.progress import Progress
from sim.experiments.samplers import design, run_seeds
from sim.experiments.spec import SweepSpec
from sim.experiments.store import Store


class RunFailed(Exception):
    """A run or a write failed after the sweep started (exit code 1 on the command line)."""


@dataclass(frozen=True)
class SweepResult:
    name: str
    directory: Path
    n_runs: int
    computed_runs: int
    elapsed: float

    def summary(self) -> str:
        """One line: runs in total, runs computed now, wall time and where they are."""
        return (
            f"{self.name}: {self.n_runs} runs ({self.computed_runs} new) in "
            f"{self.elapsed:.1f} s -> {self.directory}"
        )


def plan(spec: SweepSpec) -> tuple[list[dict[str, Any]], list[runners.WorkUnit]]:
    """The design and its work units: each point's replicates cut into slices of at most
    ``replicates_per_unit``, seeds fixed here, before anything is dispatched."""
    points = design(spec)
    seeds = run_seeds(spec, len(points))
    units = []
    size = spec.replicates_per_unit
    for point_id, values in enumerate(points):
        params = spec.params_for(values)
        for first in range(0, spec.replicates, size):
            last = min(first + size, spec.replicates)
            units.append(
                runners.WorkUnit(
                    point_id=point_id,
                    first_replicate=first,
                    seeds=tuple(int(s) for s in seeds[point_id, first:last]),
                    params=params,
                    values=tuple(values.items()),
                    steps=spec.steps,
                    record=spec.record,
                    providers=spec.providers,
                    segments=spec.segments,
                )
            )
    return points, units


def run_sweep(
    spec: SweepSpec,
    directory: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    connect_timeout: float = 10.0,
    progress: bool = True,
    progress_interval: float = 10.0,
) -> SweepResult:
    """Run (or resume) ``spec`` into ``directory``; returns counts and wall time."""
    started = time.monotonic()
    runners.check_options(backend, workers, scheduler)
    points, units = plan(spec)
    store = Store(directory, spec, force=force)
    store.open()
    finished = store.resume(units)
    todo = [u for u in units if u.chunk_name not in finished]
    n_runs = len(points) * spec.replicates
    done_runs = n_runs - sum(u.runs for u in todo)
    n_workers = workers or runners.default_workers()
    with runners.backend(
        backend, n_workers, scheduler, connect_timeout, units=len(todo)
    ) as execute:
        store.begin(n_points=len(points), n_units=len(units), backend=backend, workers=n_workers)
        bar = Progress(spec.name, n_runs, done_runs, enabled=progress, interval=progress_interval)
        try:
            for unit, chunk in execute(todo):
                store.add(unit, chunk)
                bar.update(unit.runs)
        except Exception as exc:  # a failure while running, not bad input
            raise RunFailed(f"sweep {spec.name!r} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            bar.close()
            store.close()
    elapsed = time.monotonic() - started
    store.finish(elapsed)
    return SweepResult(spec.name, Path(directory), n_runs, n_runs - done_runs, elapsed)
