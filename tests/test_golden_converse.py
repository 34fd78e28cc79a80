"""The converse of tests/test_golden.py: turning any mechanism of version 2 on in ``classic``
changes the first version's outputs, so the golden digests would catch a mechanism that leaked
into ``classic`` (the golden test can fail).

Each case is one golden run (``seed|logit|circ=0|gov=scenario``: ``classic``, logit firms,
300 enterprises, seeds 0, 1, 7, 40 steps) with one mechanism switched on; the digests of the
first version's model and provider columns must differ from the recorded ones. (Two segments
that behave alike, or compute bought while ``compute_effect = 0``, rightly change nothing, so
each case switches on something that acts.)"""

from __future__ import annotations

from typing import Any

import pytest

from sim.batch import run_batch
from tests.test_golden import GOLDEN, V1_MODEL, V1_PROVIDER, digests, v1_params

KEY = "seed|logit|circ=0|gov=scenario"
ENTRY = GOLDEN["runs"][KEY]
OPEN = {
    "name": "home-open",
    "channel": "open",
    "origin": "home",
    "quality": 0.9,
    "price": 0.0,
    "margin": 0.0,
}
TWO_SEGMENTS = [{"name": "large", "share": 0.3}, {"name": "small", "share": 0.7}]
COMPUTE = {"compute_effect": 0.1, "compute_subsidy": 0.03}


def segments(**fields: Any) -> list[dict[str, Any]]:
    """Two segments, the first with ``fields``."""
    return [{**TWO_SEGMENTS[0], **fields}, TWO_SEGMENTS[1]]


MECHANISMS: dict[str, dict[str, Any]] = {
    "spend sizes": {"segments": segments(size_mean=5.0, size_sigma=1.0)},
    "tastes": {"segments": segments(taste_sd=0.05)},
    "barred channels": {"segments": segments(barred_channels=["direct"])},
    "security sensitivity": {"segments": segments(security_sensitivity=0.05)},
    "frontier need": {"segments": segments(frontier_need=0.5)},
    "segment behaviour": {"segments": segments(revision_rate=0.3, enterprise_rationality=10.0)},
    "exclusion": {"segments": TWO_SEGMENTS, "partner-cloud.excluded_segments": ["small"]},
    "network and peers": {"network.kind": "block", "peer_effect": 0.1},
    "open weights": {"add_provider": OPEN},
    "hosting cost": {"add_provider": {**OPEN, "hosting_cost": 0.05}},
    "licensing": {"partner-cloud.licensor": "direct-lab", "partner-cloud.revenue_share": 0.2},
    "migration offers": {"domestic-a.migration_offer": 1.0},
    "diffusion": {"diffusion_rate": 0.05},
    "compute": COMPUTE,
    "compute from revenue": {"compute_effect": 0.1, "compute_per_revenue": 0.003},
    "spillover": {"spillover_rate": 0.02},
    "frontier releases": {"frontier_release_interval": 6},
    "controls decided": {"home_controls_rule": "best_response", "home_gap_weight": 100.0},
    "marginal cost": {"domestic-a.marginal_cost": 0.1},
    "events": {"events": [{"month": 20, "set": {"learning_rate": 0.2}}]},
}


def changed_digests(changes: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    params = v1_params("seed").replace(**ENTRY["changes"])
    changes = dict(changes)
    extra = changes.pop("add_provider", None)
    if extra is not None:
        params = params.replace(providers=[*(p.model_dump() for p in params.providers), extra])
    result = run_batch(params.replace(**changes), [0, 1, 7], 40)
    return digests(result.model, V1_MODEL), digests(result.providers, V1_PROVIDER)


def test_the_unchanged_run_matches_its_golden_entry() -> None:
    model, providers = changed_digests({})
    assert model == ENTRY["model"] and providers == ENTRY["providers"]


@pytest.mark.parametrize("mechanism", list(MECHANISMS))
def test_turning_a_mechanism_on_changes_the_golden_outputs(mechanism: str) -> None:
    model, providers = changed_digests(MECHANISMS[mechanism])
    changed = [c for c in V1_MODEL if model[c] != ENTRY["model"][c]]
    changed += [c for c in V1_PROVIDER if providers[c] != ENTRY["providers"][c]]
    assert changed, f"{mechanism}: no first-version output changed"


def test_export_controls_change_the_outputs_once_compute_matters() -> None:
    """Controls act through compute: with compute on, switching them on changes the outputs
    again (with compute off they have nothing to act on)."""
    assert changed_digests({**COMPUTE, "home_controls": "on"}) != changed_digests(COMPUTE)


def test_price_rules_change_the_golden_outputs() -> None:
    model, _ = changed_digests({"price_rule": "price_war", "price_subsidy": 0.5})
    assert model != ENTRY["model"]
