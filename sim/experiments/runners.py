"""Where work units run: in this process, a local process pool, or a Dask cluster.

A :class:`WorkUnit` is one point's replicates (or a slice of them) with their seeds already
fixed; :func:`run_unit` turns it into a tidy frame with :func:`sim.batch.run_batch`, so every
backend runs the same pure core and the result of a unit does not depend on where it ran.
Each unit's frame is encoded as a Parquet chunk, with its sha256, where it ran
(:func:`run_chunk`), so the only work left to the calling process is writing bytes: with a pool
it no longer competes with the workers for the cores. The bytes come back to the calling
process, which writes them (a remote Dask worker needs no shared file system). At most
``2 * workers`` units are in flight, so memory stays flat.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.batch import run_batch
from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS, SEGMENT_COLUMNS
from sim.params import Params

BACKENDS = ("local", "dask")


class BackendError(Exception):
    """The requested backend cannot be used (for example an unreachable scheduler)."""


@dataclass(frozen=True)
class WorkUnit:
    """Replicates ``first_replicate ... first_replicate + len(seeds) - 1`` of one point."""

    point_id: int
    first_replicate: int
    seeds: tuple[int, ...]
    params: Params
    values: tuple[tuple[str, Any], ...]
    steps: int
    record: str | int
    providers: bool
    segments: bool = False

    @property
    def chunk_name(self) -> str:
        last = self.first_replicate + len(self.seeds) - 1
        return f"p{self.point_id:06d}-r{self.first_replicate:05d}-{last:05d}.parquet"

    @property
    def runs(self) -> int:
        return len(self.seeds)


def provider_column(name: str, column: str) -> str:
    """Name of a per-provider output column in stored frames, e.g. ``direct-lab/strategy``."""
    return f"{name}/{column}"


def segment_column(name: str, column: str) -> str:
    """Name of a per-segment output column in stored frames, e.g. ``developers/foreign_share``
    (the same form as :func:`provider_column`)."""
    return f"{name}/{column}"


def run_unit(unit: WorkUnit) -> pd.DataFrame:
    """Run a unit's replicates together; rows keyed by point id, replicate, seed and step.

    Columns: ``point_id, replicate, seed, step``, the point's varied parameters, the model's
    :data:`~sim.engine.MODEL_COLUMNS`, when ``providers`` is set ``<provider>/<column>`` for
    each of :data:`~sim.engine.PROVIDER_COLUMNS`, and when ``segments`` is set
    ``<segment>/<column>`` for each of :data:`~sim.engine.SEGMENT_COLUMNS` (segments as
    :meth:`~sim.params.Params.resolved_segments` names them: ``all`` when none is declared).
    """
    final_only = unit.record == "final"
    every = 1 if final_only else int(unit.record)
    out = run_batch(
        unit.params,
        [int(s) for s in unit.seeds],
        unit.steps,
        record_every=every,
        final_only=final_only,
    )
    model = out.model
    per_provider = out.providers if unit.providers else None
    run = model["run"].to_numpy()
    seeds = np.asarray(unit.seeds, dtype=np.int64)
    frame: dict[str, Any] = {
        "point_id": np.full(len(model), unit.point_id, dtype=np.int64),
        "replicate": (unit.first_replicate + run).astype(np.int64),
        "seed": seeds[run],
        "step": model["step"].to_numpy(dtype=np.int64),
    }
    for name, value in unit.values:
        frame[name] = [value] * len(model)
    for column in MODEL_COLUMNS:
        frame[column] = model[column].to_numpy()
    if per_provider is not None:
        for j, provider in enumerate(unit.params.providers):
            rows = per_provider[per_provider["provider"] == j]
            # both frames are sorted by (run, step), so rows align one to one
            for column in PROVIDER_COLUMNS:
                frame[provider_column(provider.name, column)] = rows[column].to_numpy()
    if unit.segments:
        per_segment = out.segments
        for k, segment in enumerate(unit.params.resolved_segments()):
            rows = per_segment[per_segment["segment"] == k]
            # sorted by (run, step) like the model frame
            for column in SEGMENT_COLUMNS:
                frame[segment_column(segment.name, column)] = rows[column].to_numpy()
    return pd.DataFrame(frame)


@dataclass(frozen=True)
class Chunk:
    """A finished unit as the store writes it: Parquet bytes, their row count and sha256."""

    data: bytes
    rows: int
    sha256: str


# a backend: runs the units it is given, yielding each with its chunk as it finishes
Runner = Callable[[list[WorkUnit]], Iterator[tuple[WorkUnit, Chunk]]]


def encode_parquet(frame: pd.DataFrame) -> bytes:
    """``frame`` (no index) as the bytes of a Parquet file."""
    # straight from the column arrays: pandas' own conversion costs more than the encoding
    table = pa.table({str(c): frame[c].to_numpy() for c in frame.columns})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue())


def run_chunk(unit: WorkUnit) -> Chunk:
    """:func:`run_unit`, encoded where it ran (what every backend executes)."""
    frame = run_unit(unit)
    data = encode_parquet(frame)
    return Chunk(data, len(frame), hashlib.sha256(data).hexdigest())


def default_workers() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _bounded(
    submit: Callable[[WorkUnit], Any],
    wait_one: Callable[[set[Any]], tuple[set[Any], set[Any]]],
    units: Iterable[WorkUnit],
    window: int,
) -> Iterator[tuple[WorkUnit, Chunk]]:
    """Keep at most ``window`` units in flight; yield each as it finishes (``submit`` returns
    a future whose ``result()`` is the unit's chunk)."""
    pending: dict[Any, WorkUnit] = {}
    todo = iter(units)
    for unit in todo:
        pending[submit(unit)] = unit
        if len(pending) >= window:
            break
    while pending:
        done, _ = wait_one(set(pending))
        for fut in done:
            unit = pending.pop(fut)
            yield unit, fut.result()
            nxt = next(todo, None)
            if nxt is not None:
                pending[submit(nxt)] = nxt


@contextmanager
def local_backend(workers: int) -> Iterator[Runner]:
    """Run units in this process (``workers == 1``) or in a pool of ``workers`` processes."""
    if workers == 1:

        def serial(units: list[WorkUnit]) -> Iterator[tuple[WorkUnit, Chunk]]:
            for unit in units:
                yield unit, run_chunk(unit)

        yield serial
        return
    # fork: workers inherit the imported model instead of importing it again
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    pool = futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method))
    try:

        def parallel(units: list[WorkUnit]) -> Iterator[tuple[WorkUnit, Chunk]]:
            return _bounded(
                lambda u: pool.submit(run_chunk, u),
                lambda fs: futures.wait(fs, return_when=futures.FIRST_COMPLETED),
                units,
                2 * workers,
            )

        yield parallel
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def dask_backend(workers: int, scheduler: str | None, timeout: float = 10.0) -> Iterator[Runner]:
    """Run units on a Dask cluster: the scheduler at ``scheduler``, or a ``LocalCluster`` of
    ``workers`` single-threaded worker processes on 127.0.0.1 when none is given."""
    try:
        from distributed import Client, LocalCluster, wait
    except ImportError as exc:
        raise BackendError(
            "backend 'dask' needs dask[distributed]: pip install 'techcomp-sim[dist]'"
        ) from exc
    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=40,
            )
            client = Client(cluster)
        else:
            client = Client(scheduler, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        target = scheduler or "a LocalCluster"
        raise BackendError(f"--scheduler {target}: cannot connect ({exc})".strip()) from None
    try:
        window = 2 * max(sum(client.nthreads().values()), 1)

        def distributed_run(units: list[WorkUnit]) -> Iterator[tuple[WorkUnit, Chunk]]:
            return _bounded(
                lambda u: client.submit(run_chunk, u, pure=False),
                lambda fs: wait(fs, return_when="FIRST_COMPLETED"),
                units,
                window,
            )

        yield distributed_run
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def check_options(name: str, workers: int | None, scheduler: str | None) -> None:
    """Raise a one-line ``ValueError`` for a backend choice that cannot work."""
    if name not in BACKENDS:
        raise ValueError(f"backend={name!r}: expected one of {', '.join(BACKENDS)}")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers={workers!r}: expected a whole number >= 1")
    if scheduler is not None and name != "dask":
        raise ValueError("--scheduler: only used with --backend dask")


@contextmanager
def backend(
    name: str,
    workers: int,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
    *,
    units: int,
) -> Iterator[Runner]:
    """The runner for ``units`` work units on ``name`` (``local`` or ``dask``, options already
    checked by :func:`check_options`) with ``workers`` workers; ``connect_timeout`` bounds the
    wait for a Dask scheduler (seconds). With nothing to run no pool or cluster is started, and
    a local pool has no more processes than units."""
    if units == 0:
        runner = local_backend(1)
    elif name == "local":
        runner = local_backend(min(workers, units))
    else:
        runner = dask_backend(workers, scheduler, connect_timeout)
    with runner as run:
        yield run
