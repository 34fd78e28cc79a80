"""Command line: ``python -m sim scenarios | schema | run | sweep | figures | suite | calibrate``.

Exit codes: 0 success; 2 bad input (malformed or invalid sweep file, unknown parameter, value
out of range, unwritable or unusable output, unreachable scheduler, bad options), reported as
one line on stderr; 1 a failure while running; 130 interrupted by SIGINT (Ctrl-C), 143 by
SIGTERM. Results of a stopped sweep stay marked ``running`` in their manifest, and re-running
the same command resumes them (the line printed on interruption says so).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shlex
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from sim.errors import short_repr

USER_ERROR = 2
RUN_FAILURE = 1
INTERRUPTED = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal's number


class UserError(Exception):
    """Bad input: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line instead of argparse's usage block."""
        raise UserError(f"{self.prog}: {message} (see --help)")


def _one_line_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _whole_number(minimum: int, maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer ``>= minimum`` (and ``<= maximum`` when given)."""
    allowed = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            raise argparse.ArgumentTypeError(
                f"expected a whole number {allowed}, got {short_repr(text)}"
            )
        return value

    return parse


def _parse_setting(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` with VALUE read as one TOML value (numbers, true/false, "strings",
    arrays, inline tables); anything else is taken as a bare word such as ``restrict``. KEY is
    any name :meth:`sim.params.Params.replace` accepts (``partner-cloud.margin``)."""
    from sim.errors import InputError, parse_toml

    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {short_repr(text)}")
    key, raw = text.split("=", 1)
    try:
        parsed = parse_toml(f"v = {raw}", "--set")
    except InputError:
        parsed = {"v": raw}
    if set(parsed) != {"v"}:  # VALUE held a newline and more TOML
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE on one line, got {short_repr(text)}")
    return key.strip(), parsed["v"]


def _checked(check: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse ``type`` from a checker raising a one-line ``ValueError``."""

    def parse(text: str) -> Any:
        try:
            return check(text)
        except ValueError as exc:
            # the checker's message is "<option> <value>: <allowed>"; argparse names the option
            allowed = str(exc).partition(": ")[2] or str(exc)
            raise argparse.ArgumentTypeError(f"{allowed}, got {text!r}") from None

    return parse


def _scheduler(text: str) -> str:
    from sim.experiments.runners import scheduler_address

    return scheduler_address(text)


def _seconds(text: str) -> float:
    from sim.experiments.runners import check_timeout

    return check_timeout(text)


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", choices=("local", "dask"), default="local")
    p.add_argument(
        "--workers", type=_whole_number(1), default=None, help="default: the machine's cores"
    )
    p.add_argument(
        "--scheduler",
        type=_checked(_scheduler),
        default=None,
        help="Dask scheduler address tcp://HOST:PORT",
    )
    p.add_argument(
        "--connect-timeout",
        type=_checked(_seconds),
        default=10.0,
        help="seconds to reach the scheduler, handshake included (> 0)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="start again over results of another definition or model code (files this tool "
        "did not write are left alone)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar or lines")


def _backend_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The options of :func:`_add_backend_options` as keywords of ``run_sweep``/``run_suite``."""
    return {
        "backend": args.backend,
        "workers": args.workers,
        "scheduler": args.scheduler,
        "force": args.force,
        "connect_timeout": args.connect_timeout,
        "progress": not args.no_progress,
    }


def build_parser() -> argparse.ArgumentParser:
    # the limits are the sweep schema's: a run's seed is stored as a signed 64-bit integer
    from sim.experiments.spec import MAX_LEVELS, MAX_POINTS, MAX_RUNS, MAX_SEED, MAX_STEPS

    allow_large = (
        f"run a design above the size limits ({MAX_POINTS:,} points, {MAX_LEVELS:,} levels "
        f"of a dimension, {MAX_RUNS:,} runs; see docs/experiments.md)"
    )
    parser = _Parser(prog="python -m sim", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sub.add_parser("scenarios", help="list the named scenarios")

    schema = sub.add_parser("schema", help="JSON Schema of a scenario file (or a sweep file)")
    schema.add_argument("--sweep", action="store_true", help="the schema of a sweep file")

    run = sub.add_parser("run", help="one run to a Parquet file")
    source = run.add_mutually_exclusive_group()
    source.add_argument("--scenario", default="seed", help="a shipped scenario (see scenarios)")
    source.add_argument("--params", type=Path, help="a scenario TOML file")
    run.add_argument(
        "--set",
        type=_parse_setting,
        action="append",
        default=[],
        metavar="K=V",
        help="change one parameter: a field, <provider>.<field>, <segment>.<field> or "
        "network.<field>; repeatable",
    )
    run.add_argument("--steps", type=_whole_number(0, MAX_STEPS), default=120)
    run.add_argument(
        "--rng",
        type=_whole_number(0, MAX_SEED),
        default=0,
        help="seed of the run's generator",
    )
    run.add_argument("--out", type=Path, default=None, help="Parquet file (default: print)")
    run.add_argument(
        "--providers",
        action="store_true",
        help="also write the per-provider and per-segment frames beside --out: "
        "NAME.providers.parquet and NAME.segments.parquet for --out NAME.parquet",
    )

    sweep = sub.add_parser("sweep", help="run or resume a sweep file")
    sweep.add_argument("file", type=Path)
    sweep.add_argument("--out", type=Path, default=None, help="default: results/<name>")
    sweep.add_argument("--quick", action="store_true", help="the file's [quick] variant")
    sweep.add_argument("--allow-large", action="store_true", help=allow_large)
    _add_backend_options(sweep)

    figures = sub.add_parser("figures", help="draw the figures of a results directory")
    figures.add_argument("directory", type=Path)
    figures.add_argument(
        "--no-check",
        action="store_true",
        help="skip verifying each chunk's checksum and identity (faster)",
    )

    suite = sub.add_parser("suite", help="every experiment in experiments/, with figures")
    suite.add_argument("--quick", action="store_true", help="the quick variants (make run)")
    suite.add_argument("--out", type=Path, default=Path("results"))
    suite.add_argument("--experiments", type=Path, default=None, help="sweep files directory")
    suite.add_argument("--docs-figures", type=Path, default=None, help="copy key figures here")
    suite.add_argument("--allow-large", action="store_true", help=allow_large)
    _add_backend_options(suite)

    calibrate = sub.add_parser(
        "calibrate", help="run or resume a calibration file (ABC-SMC; docs/calibration.md)"
    )
    calibrate.add_argument("file", type=Path)
    calibrate.add_argument("--out", type=Path, default=None, help="default: results/<name>")
    calibrate.add_argument("--quick", action="store_true", help="the file's [quick] variant")
    _add_backend_options(calibrate)
    return parser


def _schema(args: argparse.Namespace) -> int:
    if args.sweep:
        from sim.experiments.spec import sweep_file_schema

        schema = sweep_file_schema()
    else:
        from sim.params import scenario_file_schema

        schema = scenario_file_schema()
    print(json.dumps(schema, indent=2))
    return 0


def _scenarios() -> int:
    from sim.params import list_scenarios

    scenarios = list_scenarios()
    width = max(len(n) for n in scenarios)
    for name, description in scenarios.items():
        print(f"{name:<{width}}  {description}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from sim.batch import run_batch
    from sim.experiments.store import check_writable, write_parquet
    from sim.params import Params, load_scenario

    params = Params.from_toml(args.params) if args.params else load_scenario(args.scenario)
    if args.set:
        params = params.replace(**dict(args.set))
    if args.providers and args.out is None:
        raise UserError("--providers: writes files beside --out; give --out NAME.parquet")
    paths = run_paths(args.out, providers=args.providers) if args.out is not None else {}
    for path in paths.values():  # every file is checked before any is written
        _check_out_file(path)
        check_writable(path.parent, "--out")
    result = run_batch(params, [args.rng], args.steps)
    frames = {"model": result.model}
    if args.providers:
        frames.update(providers=result.providers, segments=result.segments)
    for kind, frame in frames.items():
        frame = frame.drop(columns="run")
        frame.insert(0, "seed", args.rng)
        frames[kind] = frame
    if args.out is None:
        print(frames["model"].to_string(index=False))
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for kind, path in paths.items():
        write_parquet(path, frames[kind])
        print(f"{len(frames[kind])} rows -> {path}", file=sys.stderr)
    return 0


def _check_out_file(path: Path) -> None:
    """``run --out``: a new file, or an existing regular file (replaced); never a directory,
    symlink, FIFO or device (refused, never replaced)."""
    from sim.errors import is_regular_or_absent
    from sim.experiments.store import file_kind

    try:
        if is_regular_or_absent(path):
            return
        mode = os.lstat(path).st_mode
    except OSError:  # a parent that is not a directory: check_writable says so
        return
    if Path(path).is_dir() and not Path(path).is_symlink():
        raise UserError(f"--out {path}: is a directory; expected a Parquet file name")
    raise UserError(
        f"--out {path}: is {file_kind(mode)}; expected a new or regular file path (a "
        "symlink, FIFO or device is never replaced); leave out --out to print the table"
    )


def run_paths(out: Path, *, providers: bool) -> dict[str, Path]:
    """Files ``run --out`` writes: the model frame at ``out`` and, with ``--providers``, the
    per-provider and per-segment frames beside it, ``<stem>.providers<suffix>`` and
    ``<stem>.segments<suffix>`` (``run.parquet``: ``run.providers.parquet``,
    ``run.segments.parquet``; a name without a suffix gets ``.parquet``)."""
    paths = {"model": out}
    if providers:
        suffix = out.suffix or ".parquet"
        for kind in ("providers", "segments"):
            paths[kind] = out.with_name(f"{out.stem if out.suffix else out.name}.{kind}{suffix}")
    return paths


def _sweep(args: argparse.Namespace) -> int:
    from sim.experiments import load_spec
    from sim.experiments.sweep import run_experiment

    spec = load_spec(args.file, quick=args.quick, allow_large=args.allow_large)
    out = args.out or Path("results") / spec.name
    result = run_experiment(spec, out, **_backend_kwargs(args))
    print(result.summary(), file=sys.stderr)
    return 0


def _figures(args: argparse.Namespace) -> int:
    from sim.experiments.figures import make_figures

    for path in make_figures(args.directory, check=not args.no_check):
        print(path)
    return 0


def _suite(args: argparse.Namespace) -> int:
    from sim.experiments.store import check_writable
    from sim.experiments.suite import experiment_specs, experiments_dir, run_suite

    # every sweep file is checked before the output directory is created
    specs = experiment_specs(
        args.experiments or experiments_dir(), quick=args.quick, allow_large=args.allow_large
    )
    check_writable(args.out, "--out")
    if args.docs_figures is not None:
        check_writable(args.docs_figures, "--docs-figures")
    for path in run_suite(specs, args.out, docs_figures=args.docs_figures, **_backend_kwargs(args)):
        print(path)
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    from sim.calibration import CalibrationError, load_calibration, run_calibration
    from sim.experiments.sweep import RunFailed

    spec = load_calibration(args.file, quick=args.quick)
    out = args.out or Path("results") / spec.name
    try:
        result = run_calibration(spec, out, **_backend_kwargs(args))
    except CalibrationError as exc:  # exit code 1, one line
        raise RunFailed(str(exc)) from exc
    print(result.summary(), file=sys.stderr)
    return 0


COMMANDS = {
    "scenarios": lambda args: _scenarios(),
    "schema": _schema,
    "run": _run,
    "sweep": _sweep,
    "figures": _figures,
    "suite": _suite,
    "calibrate": _calibrate,
}


@contextmanager
def _stop_on_signals() -> Iterator[None]:
    """While the command runs, SIGINT and SIGTERM raise
    :class:`~sim.experiments.sweep.Interrupted` in the main thread, so the sweep stops its
    workers and writes its manifest on the way out; a second signal during that clean-up is
    ignored. The previous handlers are restored afterwards."""
    from sim.experiments.sweep import Interrupted

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    owner = os.getpid()

    def stop(signum: int, frame: Any) -> None:
        if os.getpid() != owner:  # a forked worker before it set its own handlers
            if signum == signal.SIGTERM:
                os._exit(INTERRUPTED[signal.SIGTERM])
            return  # SIGINT: the sweep process handles it for the whole group
        for sig in INTERRUPTED:
            signal.signal(sig, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {sig: signal.signal(sig, stop) for sig in INTERRUPTED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_children() -> None:
    """Terminate any worker process still running after an interruption (a pool or a local
    Dask cluster whose shutdown was itself interrupted)."""
    from sim.experiments.runners import stop_processes

    stop_processes(multiprocessing.active_children())


def _interrupted(signum: int, argv: Sequence[str] | None, command: str | None) -> int:
    name = signal.Signals(signum).name
    if command in ("sweep", "suite"):
        again = "python -m sim " + shlex.join(sys.argv[1:] if argv is None else argv)
        print(
            f"interrupted by {name}: the runs finished so far are kept (the sweep stays "
            f"incomplete); resume with: {again}",
            file=sys.stderr,
        )
    else:
        print(f"interrupted by {name}", file=sys.stderr)
    return INTERRUPTED.get(signal.Signals(signum), 128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    from sim.experiments.runners import BackendError
    from sim.experiments.store import StoreError
    from sim.experiments.sweep import Interrupted, RunFailed

    warnings.showwarning = _one_line_warning
    command = None
    try:
        with _stop_on_signals():
            args = build_parser().parse_args(argv)
            command = args.command
            return int(COMMANDS[args.command](args))
    except (UserError, ValueError, StoreError, BackendError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USER_ERROR
    except RunFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return RUN_FAILURE
    except (Interrupted, KeyboardInterrupt) as exc:
        _stop_children()
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        return _interrupted(signum, argv, command)
    except Exception as exc:  # a failure while running: one line, not a traceback
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return RUN_FAILURE
