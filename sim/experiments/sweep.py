"""Run a sweep: plan its work units, skip those already stored, run the rest, store each.

Order of checks, so bad input never leaves a half-written result: the options are checked and
the sweep file is validated and every point's parameters built (:class:`ValueError`); the
output directory is locked (one writer at a time) and checked
(:class:`~sim.experiments.store.StoreError`); the backend is connected
(:class:`~sim.experiments.runners.BackendError`); only then are stale chunks removed and the
manifest written. When any check fails, the lock file and a directory made only to hold it are
removed again.

An interruption (:class:`Interrupted`, raised by the command line's SIGINT/SIGTERM handler, or
``KeyboardInterrupt``) stops the backend (a local pool's workers are terminated), records the
invocation as interrupted and leaves the manifest ``running``: the same command resumes.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.experiments import runners
from sim.experiments.progress import Progress
from sim.experiments.samplers import design, run_seeds
from sim.experiments.spec import SweepSpec
from sim.experiments.store import Store

if TYPE_CHECKING:
    from sim.experiments.threshold import ThresholdResult


class RunFailed(Exception):
    """A run or a write failed after the sweep started (exit code 1 on the command line)."""


class Interrupted(BaseException):
    """The process was asked to stop (SIGINT or SIGTERM) while it ran: like
    ``KeyboardInterrupt``, not an ``Exception``, so no failure handler swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


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
    sweep = spec.fingerprint()
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
                    sweep_sha256=sweep,
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
    runners.check_options(backend, workers, scheduler, connect_timeout)
    points, units = plan(spec)
    store = Store(directory, spec, force=force)
    finished = store.open(units)
    todo = [u for u in units if u.chunk_name not in finished]
    n_runs = len(points) * spec.replicates
    done_runs = n_runs - sum(u.runs for u in todo)
    n_workers = workers or runners.default_workers()
    try:
        with ExitStack() as stack:
            try:
                execute = stack.enter_context(
                    runners.backend(
                        backend,
                        n_workers,
                        scheduler,
                        connect_timeout,
                        units=len(todo),
                        inherited_fds=store.inherited_fds(),
                    )
                )
            except BaseException:
                store.abandon()  # nothing written yet: leave nothing behind
                raise
            outcome = "failed"
            try:
                store.begin(
                    n_points=len(points), n_units=len(units), backend=backend, workers=n_workers
                )
                bar = Progress(
                    spec.name, n_runs, done_runs, enabled=progress, interval=progress_interval
                )
                try:
                    for unit, chunk in execute(todo):
                        store.add(unit, chunk)
                        bar.update(unit.runs)
                finally:
                    bar.close()
                outcome = "complete"
            except (Interrupted, KeyboardInterrupt):
                outcome = "interrupted"
                raise
            except Exception as exc:  # a failure while running, not bad input
                raise RunFailed(f"sweep {spec.name!r} failed: {type(exc).__name__}: {exc}") from exc
            finally:
                if outcome != "complete":  # the backend is stopped after this, on the way out
                    store.close(outcome, time.monotonic() - started)
        elapsed = time.monotonic() - started
        store.finish(elapsed)
    finally:
        store.release()
    return SweepResult(spec.name, Path(directory), n_runs, n_runs - done_runs, elapsed)


def run_experiment(
    spec: SweepSpec,
    directory: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    connect_timeout: float = 10.0,
    progress: bool = True,
) -> SweepResult | ThresholdResult:
    """Run (or resume) ``spec`` into ``directory`` as ``sweep`` and ``suite`` do: a threshold
    search (sampler ``bisect``) with :func:`~sim.experiments.threshold.run_threshold`, its
    rounds each a sweep of their own, any other sweep with :func:`run_sweep`."""
    options: dict[str, Any] = {
        "backend": backend,
        "workers": workers,
        "scheduler": scheduler,
        "force": force,
        "connect_timeout": connect_timeout,
        "progress": progress,
    }
    if spec.sampler == "bisect":
        from sim.experiments.threshold import run_threshold

        return run_threshold(spec, directory, **options)
    return run_sweep(spec, directory, **options)
