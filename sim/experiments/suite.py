"""Run every shipped experiment (``experiments/*.toml``), quick or full, and draw its figures.

``make run`` is ``python -m sim suite --quick --out results``: each sweep file's ``[quick]``
variant, written to ``results/<name>-quick/``; ``make experiments`` runs the full variants into
``results/<name>/``. Both resume: finished runs are not run again.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TextIO

import pandas as pd

from sim.errors import read_toml
from sim.experiments.figures import REGIMES, make_figures
from sim.experiments.spec import SweepSpec, spec_from_mapping
from sim.experiments.store import atomic_write_bytes
from sim.experiments.sweep import run_experiment

# Figures the README shows: (experiment kind, figure stem).
DOCS_FIGURES = (
    ("baseline", "baseline_timeseries"),
    ("phase_diagram", "phase_diagram"),
    ("counterfactuals", "counterfactuals"),
)


def experiments_dir() -> Path:
    """``./experiments`` when it exists, else the one beside the package (a source checkout)."""
    here = Path("experiments")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[2] / "experiments"


def experiment_specs(directory: Path, *, quick: bool, allow_large: bool = False) -> list[SweepSpec]:
    """Every sweep file in ``directory``, validated (all of them before any runs). Two files
    with the same sweep name would write into one results directory, so that is refused."""
    from sim.calibration.core import is_calibration_data

    files, specs = [], []
    for path in sorted(directory.glob("*.toml")):
        data = read_toml(path, "sweep file")  # each file read once
        # calibration files (python -m sim calibrate) live beside the sweep files
        if is_calibration_data(data):
            continue
        files.append(path)
        specs.append(
            spec_from_mapping(
                data, name=path.stem, quick=quick, origin=str(path), allow_large=allow_large
            )
        )
    if not files:
        raise ValueError(f"--experiments {directory}: no sweep files (*.toml) found")
    first_file: dict[str, Path] = {}
    for path, spec in zip(files, specs, strict=True):
        if spec.name in first_file:
            raise ValueError(
                f"--experiments {directory}: duplicate sweep name {spec.name!r} in "
                f"{first_file[spec.name].name} and {path.name}; give each a different name"
            )
        first_file[spec.name] = path
    return specs


def run_suite(
    specs: Sequence[SweepSpec],
    out: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    force: bool = False,
    connect_timeout: float = 10.0,
    docs_figures: Path | None = None,
    progress: bool = True,
    log: TextIO | None = None,
) -> list[Path]:
    """Run each experiment of ``specs`` (validated by :func:`experiment_specs`) into
    ``out/<name>``, draw its figures and, with ``docs_figures``, copy the README's key figures
    there; returns the files written."""
    log = log if log is not None else sys.stderr
    written: list[Path] = []
    for spec in specs:
        target = Path(out) / spec.name
        result = run_experiment(  # a threshold search (sampler bisect) too
            spec,
            target,
            backend=backend,
            workers=workers,
            scheduler=scheduler,
            force=force,
            connect_timeout=connect_timeout,
            progress=progress,
        )
        written.extend(make_figures(target))
        log.write(result.summary() + "\n")
        if spec.kind == "phase_diagram":  # its figures include regimes.csv
            counts = pd.read_csv(target / "regimes.csv")["regime"].value_counts()
            log.write(
                f"{spec.name}: cells per regime: "
                + ", ".join(f"{name} {counts.get(name, 0)}" for name in REGIMES)
                + "\n"
            )
        if docs_figures is not None:
            for kind, stem in DOCS_FIGURES:
                if spec.kind != kind:
                    continue
                docs_figures.mkdir(parents=True, exist_ok=True)
                for ext in ("png", "svg"):
                    source = target / "figures" / f"{stem}.{ext}"
                    dest = docs_figures / f"{stem}.{ext}"
                    atomic_write_bytes(dest, partial(shutil.copyfile, source))
                    written.append(dest)
    return written
