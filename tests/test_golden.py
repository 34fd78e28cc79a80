"""The model of record stays reproducible: the ``classic`` scenario (and the first version's
``mandate``, ``open`` and ``protectionist`` scenarios, written as overrides of ``classic``)
reproduces the first version's outputs bit for bit, for every decision rule, with
circumvention on and off, in the batch engine, the Mesa model and the mean field.

``tests/golden/v1.json`` holds sha256 digests (first 20 hex digits) of every output column of
the first version (commit 4c74594), computed by the same :func:`column_digest` below."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim import meanfield
from sim.batch import run_batch
from sim.model import TechCompetitionModel
from sim.params import Params, load_scenario

GOLDEN = json.loads((Path(__file__).parent / "golden" / "v1.json").read_text())
V1_MODEL = GOLDEN["model_columns"]
V1_PROVIDER = GOLDEN["provider_columns"]

V1_SCENARIOS: dict[str, dict[str, Any]] = {
    "seed": {},
    "mandate": {
        "home_rule": "fixed",
        "home_policy": "restrict",
        "home_enforcement": 0.9,
        "home_fine": 100.0,
    },
    "open": {
        "security_weight": 0.0,
        "home_security_weight": 0.0,
        "home_rival_growth_weight": 0.0,
        "direct-lab.home_exposure": 0.0,
        "partner-cloud.home_exposure": 0.0,
    },
    "protectionist": {"rival_rule": "fixed", "rival_policy": "restrict"},
}
"""The first version's scenarios as overrides of ``classic`` (its ``seed``)."""


def column_digest(values: Any) -> str:
    arr = np.asarray(values)
    if arr.dtype == object or arr.dtype.kind in "US":
        data = "\x1f".join(map(str, arr.tolist())).encode()
    else:
        data = np.ascontiguousarray(
            arr.astype(np.float64) if arr.dtype.kind in "iub" else arr
        ).tobytes()
    return hashlib.sha256(data).hexdigest()[:20]


def digests(frame: pd.DataFrame, columns: list[str]) -> dict[str, str]:
    return {c: column_digest(frame[c].to_numpy()) for c in columns}


def v1_params(scenario: str) -> Params:
    return load_scenario("classic").replace(**V1_SCENARIOS[scenario])


BATCH_KEYS = [k for k in GOLDEN["runs"] if k.count("|") == 3]


@pytest.mark.parametrize("key", BATCH_KEYS)
def test_classic_batch_is_bit_identical_to_the_first_version(key: str) -> None:
    scenario = key.split("|")[0]
    entry = GOLDEN["runs"][key]
    result = run_batch(v1_params(scenario).replace(**entry["changes"]), [0, 1, 7], 40)
    assert digests(result.model, V1_MODEL) == entry["model"]
    assert digests(result.providers, V1_PROVIDER) == entry["providers"]


@pytest.mark.parametrize("scenario", list(V1_SCENARIOS))
def test_classic_mean_field_is_bit_identical(scenario: str) -> None:
    frame = meanfield.trajectory(v1_params(scenario).replace(n_enterprises=1000), 60)
    assert digests(frame, V1_MODEL[1:]) == GOLDEN["runs"][f"meanfield|{scenario}"]["model"]


def test_classic_mesa_model_is_bit_identical() -> None:
    model = TechCompetitionModel(params=v1_params("seed").replace(n_enterprises=500), rng=3)
    frame = model.run(30)
    entry = GOLDEN["runs"]["mesa|seed"]
    assert digests(frame, V1_MODEL[1:]) == entry["model"]
    provider_columns = ["step", "name", "strategy", "revenue", "payoff", "quality", "share"]
    assert digests(model.provider_frame(), provider_columns) == entry["providers"]
    gov = ["step", "region", "policy"]
    assert digests(model.government_frame(), gov) == entry["governments"]


def test_a_changed_output_changes_the_digest() -> None:
    """The check can fail: one ulp in one value changes the column's digest."""
    result = run_batch(v1_params("seed").replace(n_enterprises=300), [0], 5)
    values = result.model["foreign_share"].to_numpy().copy()
    values[-1] = np.nextafter(values[-1], 1.0)
    assert column_digest(values) != column_digest(result.model["foreign_share"].to_numpy())
