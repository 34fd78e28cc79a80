"""Where work units run: in this process, a local process pool, or a Dask cluster.

A :class:`WorkUnit` is one point's replicates (or a slice of them) with their seeds already
fixed; :func:`run_unit` turns it into a tidy frame with :func:`sim.batch.run_batch`, so every
backend runs the same pure core and the result of a unit does not depend on where it ran.
Each unit's frame is encoded as a Parquet chunk, with its sha256, where it ran
(:func:`run_chunk`), so the only work left to the calling process is writing bytes: with a pool
it no longer competes with the workers for the cores. The bytes come back to the calling
process, which writes them (a remote Dask worker needs no shared file system). At most
``2 * workers`` units are in flight, so memory stays flat.

Every chunk carries its identity in its Parquet key-value metadata (:class:`ChunkIdentity`):
the sweep's definition fingerprint, the point, the replicate range and seeds, and the
fingerprint of the model code of the process that computed it
(:func:`sim.experiments.provenance.code_fingerprint`), so the store can tell a chunk of this
sweep and this code from any other, whatever its file name or the manifest says.

Stopping: when the calling process is interrupted (or a unit fails), a local pool's worker
processes are terminated, not left to finish; pool workers ignore SIGINT (the calling process
handles a terminal's Ctrl-C for the whole group) and take the default action on SIGTERM.
Reaching a Dask scheduler is bounded by ``connect_timeout`` as a whole: the TCP connection,
Dask's handshake and a first request (:func:`connect_scheduler`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.batch import run_batch
from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS, SEGMENT_COLUMNS
from sim.experiments.provenance import code_fingerprint
from sim.params import Params

BACKENDS = ("local", "dask")
STOP_SECONDS = 5.0
"""How long stopped pool workers get to exit after SIGTERM before they are killed."""
MAX_CONNECT_SECONDS = 86400.0
"""Longest ``--connect-timeout`` (a day)."""


class BackendError(Exception):
    """The requested backend cannot be used (for example an unreachable scheduler)."""


@dataclass(frozen=True)
class WorkUnit:
    """Replicates ``first_replicate ... first_replicate + len(seeds) - 1`` of one point of the
    sweep whose definition fingerprint is ``sweep_sha256``."""

    point_id: int
    first_replicate: int
    seeds: tuple[int, ...]
    params: Params
    values: tuple[tuple[str, Any], ...]
    steps: int
    record: str | int
    providers: bool
    sweep_sha256: str
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


IDENTITY_KEYS = (
    "sim.sweep_sha256",
    "sim.code_sha256",
    "sim.point_id",
    "sim.replicates",
    "sim.seeds",
)
"""Keys of a chunk's identity in its Parquet key-value metadata."""


@dataclass(frozen=True)
class ChunkIdentity:
    """What a chunk is: a unit of the sweep ``sweep_sha256`` (point ``point_id``, replicates
    ``[first, end)`` with ``seeds``) computed by model code ``code_sha256``."""

    sweep_sha256: str
    code_sha256: str
    point_id: int
    replicates: tuple[int, int]
    seeds: tuple[int, ...]

    @classmethod
    def of(cls, unit: WorkUnit, code_sha256: str) -> ChunkIdentity:
        end = unit.first_replicate + unit.runs
        return cls(
            unit.sweep_sha256, code_sha256, unit.point_id, (unit.first_replicate, end), unit.seeds
        )

    def metadata(self) -> dict[str, str]:
        """As Parquet key-value metadata (:data:`IDENTITY_KEYS`)."""
        values = (
            self.sweep_sha256,
            self.code_sha256,
            str(self.point_id),
            json.dumps(list(self.replicates)),
            json.dumps(list(self.seeds)),
        )
        return dict(zip(IDENTITY_KEYS, values, strict=True))

    @classmethod
    def from_metadata(cls, metadata: Mapping[bytes, bytes] | None) -> ChunkIdentity | None:
        """The identity stored in a Parquet file's key-value metadata; ``None`` when it has
        none or it is malformed (a file this tool did not write, or damaged)."""
        if not metadata:
            return None
        try:
            raw = [metadata[key.encode()].decode() for key in IDENTITY_KEYS]
            replicates = json.loads(raw[3])
            seeds = json.loads(raw[4])
            first, end = (int(r) for r in replicates)
            return cls(raw[0], raw[1], int(raw[2]), (first, end), tuple(int(s) for s in seeds))
        except (KeyError, ValueError, TypeError, UnicodeDecodeError):
            return None

    def matches(self, unit: WorkUnit) -> bool:
        """Whether this is the identity of ``unit`` (whatever the code)."""
        return (
            self.sweep_sha256 == unit.sweep_sha256
            and self.point_id == unit.point_id
            and self.replicates == (unit.first_replicate, unit.first_replicate + unit.runs)
            and self.seeds == unit.seeds
        )


@dataclass(frozen=True)
class Chunk:
    """A finished unit as the store writes it: Parquet bytes (with the unit's identity in
    their metadata), their row count and sha256, and the code fingerprint of the process that
    computed it."""

    data: bytes
    rows: int
    sha256: str
    code_sha256: str


# a backend: runs the units it is given, yielding each with its chunk as it finishes
Runner = Callable[[list[WorkUnit]], Iterator[tuple[WorkUnit, Chunk]]]


def encode_parquet(frame: pd.DataFrame, metadata: Mapping[str, str] | None = None) -> bytes:
    """``frame`` (no index) as the bytes of a Parquet file, with ``metadata`` as its
    key-value metadata."""
    # straight from the column arrays: pandas' own conversion costs more than the encoding
    table = pa.table({str(c): frame[c].to_numpy() for c in frame.columns})
    if metadata:
        table = table.replace_schema_metadata(dict(metadata))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue())


def run_chunk(unit: WorkUnit) -> Chunk:
    """:func:`run_unit`, encoded with its identity where it ran (what every backend executes);
    the code fingerprint is that of the process running it."""
    code = code_fingerprint()
    frame = run_unit(unit)
    data = encode_parquet(frame, ChunkIdentity.of(unit, code).metadata())
    return Chunk(data, len(frame), hashlib.sha256(data).hexdigest(), code)


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


def _worker_init(inherited_fds: Sequence[int]) -> None:
    """Start of every local pool worker: leave SIGINT to the calling process (a terminal's
    Ctrl-C reaches the whole process group), die on SIGTERM, and close the file descriptors
    the worker inherited by fork but must not hold (the result directory's lock)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for fd in inherited_fds:
        try:
            os.close(fd)
        except OSError:
            pass


def stop_processes(processes: Iterable[multiprocessing.process.BaseProcess]) -> None:
    """Terminate ``processes`` (SIGTERM), wait up to :data:`STOP_SECONDS` in all, then kill
    (SIGKILL) any still alive and reap them."""
    processes = list(processes)
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        process.join(max(deadline - time.monotonic(), 0.0))
    for process in processes:
        if process.is_alive():
            process.kill()
            process.join(STOP_SECONDS)


@contextmanager
def local_backend(workers: int, inherited_fds: Sequence[int] = ()) -> Iterator[Runner]:
    """Run units in this process (``workers == 1``) or in a pool of ``workers`` processes.

    When the body raises (a failed unit, an interrupt such as SIGTERM) the pool's workers are
    terminated at once rather than left to finish their units; ``inherited_fds`` are closed
    in each worker as it starts."""
    if workers == 1:

        def serial(units: list[WorkUnit]) -> Iterator[tuple[WorkUnit, Chunk]]:
            for unit in units:
                yield unit, run_chunk(unit)

        yield serial
        return
    # fork: workers inherit the imported model instead of importing it again
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    before = set(multiprocessing.active_children())
    pool = futures.ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_worker_init,
        initargs=(tuple(inherited_fds),),
    )
    finished = False
    try:

        def parallel(units: list[WorkUnit]) -> Iterator[tuple[WorkUnit, Chunk]]:
            return _bounded(
                lambda u: pool.submit(run_chunk, u),
                lambda fs: futures.wait(fs, return_when=futures.FIRST_COMPLETED),
                units,
                2 * workers,
            )

        yield parallel
        finished = True
    finally:
        if finished:
            pool.shutdown(wait=True)
        else:
            pool.shutdown(wait=False, cancel_futures=True)
            # the pool's own workers: the children started since it was made
            stop_processes(p for p in multiprocessing.active_children() if p not in before)
            pool.shutdown(wait=True)


def scheduler_address(text: str) -> str:
    """A Dask scheduler address as ``tcp://HOST:PORT`` (``HOST:PORT`` is taken as TCP);
    ``ValueError`` (one line) for anything else."""
    allowed = "expected a scheduler address tcp://HOST:PORT"
    raw = str(text)
    if not raw or any(c.isspace() for c in raw) or not raw.isprintable():
        raise ValueError(f"--scheduler {raw!r}: {allowed}")
    parts = urlsplit(raw if "://" in raw else f"tcp://{raw}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if (
        parts.scheme != "tcp"
        or not parts.hostname
        or port is None
        or not 0 < port < 65536
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(f"--scheduler {raw!r}: {allowed}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"tcp://{host}:{port}"


def check_timeout(value: Any) -> float:
    """``--connect-timeout``: a number of seconds in (0, :data:`MAX_CONNECT_SECONDS`];
    ``ValueError`` (one line) for anything else (NaN, infinite, negative, zero, a word)."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not 0 < seconds <= MAX_CONNECT_SECONDS:
        raise ValueError(
            f"--connect-timeout {value!r}: expected a finite number of seconds > 0 "
            f"(at most {MAX_CONNECT_SECONDS:g})"
        )
    return seconds


async def _identity(address: str, timeout: float) -> Any:
    from distributed import rpc

    async with rpc(address, timeout=timeout) as peer:
        return await peer.identity()


def connect_scheduler(address: str, timeout: float) -> Any:
    """A ``distributed.Client`` connected to the scheduler at ``address`` within ``timeout``
    seconds in all, or :class:`BackendError` (one line).

    ``Client(address, timeout=...)`` bounds the TCP connection but not Dask's handshake, which
    it deliberately leaves unbounded (dask/distributed#7698), so a peer that accepts TCP and
    never answers would hang it. The address is therefore checked first, under one deadline:
    a TCP connection, then Dask's handshake and an ``identity`` request through
    ``distributed.rpc``, cancelled by ``asyncio.wait_for`` at the deadline. A peer that answers
    something other than Dask's protocol (which Dask may read as an absurd frame length, a
    ``MemoryError``) or another kind of Dask server is reported as not a Dask scheduler."""
    from distributed import Client

    deadline = time.monotonic() + timeout
    parts = urlsplit(address)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=timeout):
            pass
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise BackendError(f"--scheduler {address}: cannot connect ({reason})") from None
    left = max(deadline - time.monotonic(), 0.001)
    try:
        # in a thread of its own: the caller may already run an event loop (Jupyter)
        with futures.ThreadPoolExecutor(1) as probe:
            answer = probe.submit(asyncio.run, asyncio.wait_for(_identity(address, left), left))
            info = answer.result()
    except TimeoutError:
        raise BackendError(
            f"--scheduler {address}: no answer within --connect-timeout {timeout:g} s "
            "(not a Dask scheduler, or not responding)"
        ) from None
    except Exception as exc:  # garbage: Dask's reader fails in many ways (MemoryError too)
        raise BackendError(
            f"--scheduler {address}: not a Dask scheduler (its answer is not Dask's "
            f"protocol: {type(exc).__name__})"
        ) from None
    kind = info.get("type") if isinstance(info, dict) else None
    if kind != "Scheduler":
        what = f"a Dask {kind}" if isinstance(kind, str) else "an unknown server"
        raise BackendError(f"--scheduler {address}: not a Dask scheduler ({what} answered)")
    try:
        return Client(address, timeout=max(deadline - time.monotonic(), 0.5))
    except Exception as exc:
        raise BackendError(f"--scheduler {address}: cannot connect ({exc})") from None


@contextmanager
def dask_client(workers: int | None, scheduler: str | None, timeout: float = 10.0) -> Iterator[Any]:
    """A ``distributed.Client`` of the scheduler at ``scheduler`` (reached within ``timeout``
    seconds, :func:`connect_scheduler`), or of a ``LocalCluster`` of ``workers``
    single-threaded worker processes on 127.0.0.1 when none is given; closed on exit. Sweeps
    and calibrations reach Dask through this one door."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise BackendError(
            "backend 'dask' needs dask[distributed]: pip install 'techcomp-sim[dist]'"
        ) from exc
    cluster = None
    if scheduler is not None:
        client = connect_scheduler(scheduler_address(scheduler), timeout)
    else:
        try:
            cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=40,
            )
            client = Client(cluster)
        except (OSError, TimeoutError, ValueError) as exc:
            if cluster is not None:
                cluster.close()
            raise BackendError(
                f"--backend dask: cannot start a local Dask cluster ({exc})".strip()
            ) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


@contextmanager
def dask_backend(workers: int, scheduler: str | None, timeout: float = 10.0) -> Iterator[Runner]:
    """Run units on a Dask cluster (:func:`dask_client`), at most two units per worker thread
    in flight."""
    from distributed import wait

    with dask_client(workers, scheduler, timeout) as client:
        window = 2 * max(sum(client.nthreads().values()), 1)

        def distributed_run(units: list[WorkUnit]) -> Iterator[tuple[WorkUnit, Chunk]]:
            return _bounded(
                lambda u: client.submit(run_chunk, u, pure=False),
                lambda fs: wait(fs, return_when="FIRST_COMPLETED"),
                units,
                window,
            )

        yield distributed_run


def check_options(
    name: str,
    workers: int | None,
    scheduler: str | None,
    connect_timeout: float = 10.0,
) -> None:
    """Raise a one-line ``ValueError`` for a backend choice that cannot work."""
    if name not in BACKENDS:
        raise ValueError(f"backend={name!r}: expected one of {', '.join(BACKENDS)}")
    if workers is not None and (isinstance(workers, bool) or workers < 1):
        raise ValueError(f"workers={workers!r}: expected a whole number >= 1")
    if scheduler is not None and name != "dask":
        raise ValueError("--scheduler: only used with --backend dask")
    if scheduler is not None:
        scheduler_address(scheduler)
    check_timeout(connect_timeout)


@contextmanager
def backend(
    name: str,
    workers: int,
    scheduler: str | None = None,
    connect_timeout: float = 10.0,
    *,
    units: int,
    inherited_fds: Sequence[int] = (),
) -> Iterator[Runner]:
    """The runner for ``units`` work units on ``name`` (``local`` or ``dask``, options already
    checked by :func:`check_options`) with ``workers`` workers; ``connect_timeout`` bounds the
    whole wait for a Dask scheduler (seconds). With nothing to run no pool or cluster is
    started, and a local pool has no more processes than units. ``inherited_fds`` are closed
    in forked pool workers."""
    if units == 0:
        runner = local_backend(1)
    elif name == "local":
        runner = local_backend(min(workers, units), inherited_fds)
    else:  # a local cluster, like a pool, has no more workers than units
        runner = dask_backend(
            workers if scheduler else min(workers, units), scheduler, connect_timeout
        )
    with runner as run:
        yield run
