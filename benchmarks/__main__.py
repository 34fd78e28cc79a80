"""``python -m benchmarks`` (``make bench``): run every ``benchmarks/bench_*.py`` module.

Each module's ``run(quick=False)`` returns rows (``benchmark``, ``metric``, ``value``, ``unit``
and optionally ``target``, ``ok``); this prints them as one table and writes
``results/bench/<module>.json`` with the rows, the machine's description and the wall time.

    python -m benchmarks                 # everything, full sizes
    python -m benchmarks --quick         # smaller sizes and fewer repeats
    python -m benchmarks --only model    # one module (``model`` or ``bench_model``)
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import math
import os
import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import benchmarks

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = ("benchmark", "metric", "value", "unit")


def discover() -> list[str]:
    """Names of the ``bench_*`` modules in this package, sorted."""
    return sorted(
        info.name
        for info in pkgutil.iter_modules(benchmarks.__path__)
        if info.name.startswith("bench_")
    )


def _select(names: list[str], only: list[str] | None) -> list[str]:
    if not only:
        return names
    chosen = []
    for wanted in only:
        name = wanted if wanted.startswith("bench_") else f"bench_{wanted}"
        if name not in names:
            listed = ", ".join(n.removeprefix("bench_") for n in names)
            raise ValueError(f"--only={wanted!r}: no such benchmark; expected one of {listed}")
        chosen.append(name)
    return chosen


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return str(value)
        magnitude = abs(value)
        if magnitude >= 1e5 or magnitude < 1e-3:
            return f"{value:.3g}"
        return f"{value:,.3f}" if magnitude < 10 else f"{value:,.1f}"
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> str:
    """Rows as a fixed-width text table (also pasted into docs/performance.md)."""
    header = ("benchmark", "metric", "value", "unit", "target", "ok")
    lines = [
        (
            str(r["benchmark"]),
            str(r["metric"]),
            _format_value(r["value"]),
            str(r["unit"]),
            str(r.get("target", "")),
            "" if "ok" not in r else ("yes" if r["ok"] else "NO"),
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    right = {2}

    def fmt(cells: tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(header), rule, *(fmt(line) for line in lines)])


def _check_rows(module: str, rows: Any) -> list[dict[str, Any]]:
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise TypeError(f"{module}.run() returned {type(rows).__name__}; expected list[dict]")
    for r in rows:
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise TypeError(f"{module}.run(): row {r!r} lacks {', '.join(missing)}")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="run only this module (repeatable)"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "results" / "bench", help="where the JSON files go"
    )
    parser.add_argument(
        "--clock",
        choices=sorted(benchmarks.CLOCKS),
        default=None,
        help="time with the wall clock (default) or this process's CPU time",
    )
    args = parser.parse_args(argv)
    if args.clock is not None:
        os.environ["BENCH_CLOCK"] = args.clock  # read by benchmarks.median_time
    try:
        names = _select(discover(), args.only)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2

    machine = benchmarks.machine()
    print(
        f"{machine['cpu']} | {machine['cores']} cores | {machine['memory_gb']} GB | "
        f"Python {machine['python']} | NumPy {machine['numpy']} | Mesa {machine['mesa']} | "
        f"load {machine['load_average']} | clock {benchmarks.clock_name()}"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    all_rows: list[dict[str, Any]] = []
    failed: list[str] = []
    for name in names:
        started = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        clock = time.perf_counter()
        print(f"running {name} ...", flush=True)
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            rows = _check_rows(name, module.run(quick=args.quick))
        except Exception:  # one broken benchmark must not hide the others' results
            traceback.print_exc()
            failed.append(name)
            continue
        elapsed = time.perf_counter() - clock
        record = {
            "module": name,
            "quick": args.quick,
            "clock": benchmarks.clock_name(),
            "started_utc": started,
            "elapsed_s": round(elapsed, 2),
            "machine": machine,
            "rows": rows,
        }
        (args.out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
        all_rows.extend(rows)

    print()
    print(format_table(all_rows))
    checked = [r for r in all_rows if "ok" in r]
    met = sum(bool(r["ok"]) for r in checked)
    print(f"\n{met} of {len(checked)} targets met; results in {args.out}")
    if failed:
        print(f"error: benchmark modules failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
