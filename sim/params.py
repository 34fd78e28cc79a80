"""Validated, frozen model parameters and the named scenarios shipped with the package.

Units used throughout (see ``docs/ODD.md``):

* one step is one month;
* money is in US$ million (``$M``);
* quality is relative to the technology frontier, so the frontier model has quality 1;
* prices are an index where 1 is the reference price of frontier-model access; enterprise
  utility converts price to quality units through ``price_sensitivity``;
* shares are fractions of the rival region's enterprises.

Every field carries its unit, valid range, meaning and the source or rationale of its default
in ``dataclasses.field(metadata=...)``; :func:`parameter_table` renders them for documentation
and the visualization takes its slider ranges from the same place.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from sim.rules import RULES

CHANNELS = ("direct", "partner", "domestic")
STRATEGIES = ("allow", "restrict")
FIXED_CHOICES = ("", "allow", "restrict")


def spec(
    unit: str,
    low: float | None,
    high: float | None,
    meaning: str,
    source: str,
    *,
    choices: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Metadata attached to every parameter field: unit, closed range, meaning, source."""
    return {
        "unit": unit,
        "low": low,
        "high": high,
        "meaning": meaning,
        "source": source,
        "choices": choices,
    }


def _check_value(owner: str, name: str, value: Any, expected: type, meta: Mapping[str, Any]) -> Any:
    """Return ``value`` coerced to ``expected`` or raise a one-line ``ValueError``."""
    where = f"{owner}{name}"
    if expected is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}={value!r}: expected true or false")
        return value
    if expected is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}={value!r}: expected a string")
        choices = meta.get("choices")
        if choices is not None and value not in choices:
            allowed = ", ".join(repr(c) for c in choices)
            raise ValueError(f"{where}={value!r}: expected one of {allowed}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}={value!r}: expected a number, got {type(value).__name__}")
    if expected is int:
        if isinstance(value, float):
            if not math.isfinite(value) or not value.is_integer():
                raise ValueError(f"{where}={value!r}: expected a whole number")
            value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ValueError(f"{where}={value!r}: expected a finite number")
    low, high = meta.get("low"), meta.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ValueError(f"{where}={value!r}: expected a value in [{low}, {high}]")
    return value


def _validate_fields(obj: Any, owner: str) -> None:
    for f in dataclasses.fields(obj):
        if f.name == "providers":
            continue
        expected = {"int": int, "float": float, "str": str, "bool": bool}[str(f.type)]
        value = _check_value(owner, f.name, getattr(obj, f.name), expected, f.metadata)
        object.__setattr__(obj, f.name, value)


def unknown_choice(what: str, key: str, valid: Iterable[str]) -> ValueError:
    """``<what> 'key'; did you mean 'x'? (valid: a, b, ...)``: the error for a name that is not
    one of ``valid`` (listed in the order given), with the closest valid name when one is
    close (:func:`difflib.get_close_matches`)."""
    choices = list(valid)
    close = difflib.get_close_matches(key, choices, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ValueError(f"{what} {key!r}{hint} (valid: {', '.join(choices)})")


def _unknown_key_error(owner: str, key: str, valid: Iterable[str]) -> ValueError:
    return unknown_choice(f"{owner}unknown key", key, sorted(valid))


@dataclass(frozen=True)
class Provider:
    """One AI model provider. Foreign providers (``direct``/``partner``) choose to allow or
    restrict rival-region access; ``domestic`` providers always serve the rival region."""

    name: str = field(metadata=spec("-", None, None, "label shown in outputs", "scenario"))
    channel: str = field(
        metadata=spec(
            "-",
            None,
            None,
            "direct: the lab's own API; partner: served through a rival-region joint venture; "
            "domestic: a rival-region provider",
            "model brief",
            choices=CHANNELS,
        )
    )
    quality: float = field(
        default=1.0,
        metadata=spec(
            "frontier = 1",
            0.0,
            1.0,
            "foreign: quality relative to the frontier (constant); domestic: initial relative "
            "quality, which then grows by learning",
            "assumption; foreign labs at the frontier",
        ),
    )
    price: float = field(
        default=1.0,
        metadata=spec("price index", 0.0, 10.0, "price of access", "reference price = 1"),
    )
    margin: float = field(
        default=0.6,
        metadata=spec(
            "fraction",
            0.0,
            1.0,
            "share of revenue the provider keeps as profit; lower on the partner channel, "
            "where the joint venture keeps part",
            "assumption",
        ),
    )
    security_exposure: float = field(
        default=1.0,
        metadata=spec(
            "multiplier",
            0.0,
            10.0,
            "kappa: how much serving the rival region through this channel exposes "
            "capability to misuse or transfer",
            "assumption",
        ),
    )
    home_exposure: float = field(
        default=0.0,
        metadata=spec(
            "$M/step",
            0.0,
            1e6,
            "phi: political and reputational cost to the provider of allowing access",
            "assumption",
        ),
    )
    rival_dependence: float = field(
        default=0.0,
        metadata=spec(
            "multiple of AI revenue",
            0.0,
            100.0,
            "d: rival-region business tied to AI access (cloud bundles, contracts), lost "
            "with it when access is restricted",
            "assumption",
        ),
    )
    mandate_coverage: float = field(
        default=1.0,
        metadata=spec(
            "fraction",
            0.0,
            1.0,
            "c: how far a home mandate legally reaches this channel",
            "assumption; a locally operated joint venture is partly outside its reach",
        ),
    )
    initial_strategy: str = field(
        default="allow",
        metadata=spec(
            "-", None, None, "strategy at step 0", "pre-July-2024 state", choices=STRATEGIES
        ),
    )
    fixed_strategy: str = field(
        default="",
        metadata=spec(
            "-",
            None,
            None,
            "if set, the provider always plays this (counterfactuals)",
            "none",
            choices=FIXED_CHOICES,
        ),
    )

    def __post_init__(self) -> None:
        _validate_fields(self, f"providers[{self.name!r}].")
        if self.channel == "domestic":
            for name in ("initial_strategy", "fixed_strategy"):
                if getattr(self, name) == "restrict":
                    raise ValueError(
                        f"providers[{self.name!r}].{name}='restrict': domestic providers always "
                        "serve the rival region; expected 'allow' or unset"
                    )

    @property
    def foreign(self) -> bool:
        return self.channel != "domestic"


def _default_providers() -> tuple[Provider, ...]:
    return load_scenario("seed").providers


@dataclass(frozen=True)
class Params:
    """All parameters of one model run. Build with :func:`load_scenario` or ``Params(...)``;
    change with :meth:`replace`, which validates again."""

    n_enterprises: int = field(
        default=5000,
        metadata=spec(
            "enterprises", 1, 50_000_000, "rival-region enterprises", "thousands to millions"
        ),
    )
    market_value: float = field(
        default=100.0,
        metadata=spec(
            "$M/step",
            0.0,
            1e6,
            "V: rival-region spend on model access per month at the reference price",
            "assumption of order $1bn/yr; swept in phase_diagram",
        ),
    )
    price_sensitivity: float = field(
        default=0.15,
        metadata=spec(
            "quality per price index", 0.0, 10.0, "converts price to quality units", "assumption"
        ),
    )
    enterprise_rationality: float = field(
        default=20.0,
        metadata=spec(
            "1/quality",
            0.01,
            1000.0,
            "mu: logit scale of enterprise choice (higher: quality differences matter more)",
            "assumption; a 0.1 quality difference gives odds e^2",
        ),
    )
    switching_cost: float = field(
        default=0.05,
        metadata=spec(
            "quality", 0.0, 10.0, "tau: cost of moving to another provider", "assumption"
        ),
    )
    revision_rate: float = field(
        default=0.1,
        metadata=spec(
            "probability/step",
            0.0,
            1.0,
            "rho: share of enterprises that reconsider their provider each month",
            "assumption; inertia of enterprise IT contracts",
        ),
    )
    outside_utility: float = field(
        default=0.6,
        metadata=spec("quality", -10.0, 10.0, "utility of using no model provider", "assumption"),
    )
    domestic_migration_discount: float = field(
        default=0.5,
        metadata=spec(
            "fraction",
            0.0,
            1.0,
            "share of the switching cost that domestic providers absorb (free-migration offers)",
            "model brief: domestic providers offered free migration in July 2024",
        ),
    )
    circumvention: bool = field(
        default=False,
        metadata=spec(
            "-", None, None, "enterprises may keep using a blocked foreign provider", "off"
        ),
    )
    circumvention_cost: float = field(
        default=0.15,
        metadata=spec(
            "quality",
            0.0,
            10.0,
            "cost of reaching a blocked provider (proxies, resellers)",
            "assumption",
        ),
    )
    frontier_growth: float = field(
        default=0.005,
        metadata=spec(
            "fraction/step", 0.0, 0.5, "g: monthly growth of frontier capability", "assumption"
        ),
    )
    learning_rate: float = field(
        default=0.1,
        metadata=spec(
            "1/step per unit share",
            0.0,
            1.0,
            "eta: domestic catch-up per month per unit of own user share (learning by doing)",
            "assumption (Arthur 1989 increasing returns)",
        ),
    )
    rival_subsidy: float = field(
        default=0.01,
        metadata=spec(
            "1/step",
            0.0,
            1.0,
            "catch-up per month bought by rival-government subsidy",
            "assumption",
        ),
    )
    spillover_rate: float = field(
        default=0.0,
        metadata=spec(
            "1/step per unit share",
            0.0,
            1.0,
            "catch-up per month per unit of foreign usage in the rival region (distillation)",
            "no calibrated estimate; off by default, sweep it",
        ),
    )
    security_weight: float = field(
        default=20.0,
        metadata=spec(
            "$M/step per unit share x quality",
            0.0,
            1e6,
            "sigma: the provider's internalized expected cost of misuse per unit of exposure",
            "assumption",
        ),
    )
    home_enforcement: float = field(
        default=0.5,
        metadata=spec(
            "probability/step",
            0.0,
            1.0,
            "e: chance a mandate is enforced on a violator",
            "assumption",
        ),
    )
    home_fine: float = field(
        default=10.0,
        metadata=spec(
            "$M/step",
            0.0,
            1e6,
            "f: fine on a provider caught serving against a mandate",
            "assumption",
        ),
    )
    home_revenue_weight: float = field(
        default=1.0,
        metadata=spec(
            "-", 0.0, 1e3, "home government's weight on its providers' rival revenue", "assumption"
        ),
    )
    home_security_weight: float = field(
        default=30.0,
        metadata=spec(
            "$M/step per unit share x quality",
            0.0,
            1e6,
            "home government's cost of rival access to its frontier models",
            "assumption",
        ),
    )
    home_rival_growth_weight: float = field(
        default=20.0,
        metadata=spec(
            "$M/step per unit share",
            0.0,
            1e6,
            "home government's cost of rival domestic industry's user base (catch-up)",
            "assumption",
        ),
    )
    home_enforcement_cost: float = field(
        default=5.0,
        metadata=spec("$M/step", 0.0, 1e6, "h: cost of running a mandate", "assumption"),
    )
    rival_domestic_weight: float = field(
        default=0.01,
        metadata=spec(
            "quality per unit share",
            0.0,
            100.0,
            "rival government's value of its industry's share of its enterprises",
            "assumption",
        ),
    )
    rival_dependence_weight: float = field(
        default=0.005,
        metadata=spec(
            "quality per unit share",
            0.0,
            100.0,
            "rival government's cost of dependence on foreign providers",
            "assumption",
        ),
    )
    rival_control_value: float = field(
        default=0.006,
        metadata=spec(
            "quality/step",
            0.0,
            10.0,
            "b: rival government's value of blocking foreign services whatever their use "
            "(information control, data sovereignty)",
            "assumption; the rival blocks once the foreign long-run share it would remove "
            "is below about 0.15",
        ),
    )
    firm_rule: str = field(
        default="logit",
        metadata=spec(
            "-", None, None, "decision rule of foreign providers", "choice", choices=RULES
        ),
    )
    home_rule: str = field(
        default="best_response",
        metadata=spec(
            "-", None, None, "decision rule of the home government", "choice", choices=RULES
        ),
    )
    rival_rule: str = field(
        default="best_response",
        metadata=spec(
            "-", None, None, "decision rule of the rival government", "choice", choices=RULES
        ),
    )
    firm_rationality: float = field(
        default=0.5,
        metadata=spec("1/($M/step)", 0.0, 1e3, "lambda of the firms' logit rule", "assumption"),
    )
    imitation_intensity: float = field(
        default=0.5,
        metadata=spec(
            "1/($M/step)", 0.0, 1e3, "beta of the Fermi rule, firms and governments", "assumption"
        ),
    )
    home_rationality: float = field(
        default=0.5,
        metadata=spec(
            "1/($M/step)", 0.0, 1e3, "lambda of the home government's logit rule", "assumption"
        ),
    )
    rival_rationality: float = field(
        default=50.0,
        metadata=spec(
            "1/quality", 0.0, 1e4, "lambda of the rival government's logit rule", "assumption"
        ),
    )
    firm_revision_rate: float = field(
        default=0.2,
        metadata=spec(
            "probability/step", 0.0, 1.0, "chance a provider reconsiders its strategy", "assumption"
        ),
    )
    gov_revision_rate: float = field(
        default=0.05,
        metadata=spec(
            "probability/step",
            0.0,
            1.0,
            "chance a government reconsiders its policy",
            "assumption; policy is slow",
        ),
    )
    roth_erev_forgetting: float = field(
        default=0.05,
        metadata=spec(
            "fraction/step", 0.0, 1.0, "forgetting of Roth-Erev propensities", "Roth & Erev 1995"
        ),
    )
    home_policy: str = field(
        default="allow",
        metadata=spec(
            "-",
            None,
            None,
            "home government's policy at step 0",
            "July 2024: no mandate",
            choices=STRATEGIES,
        ),
    )
    rival_policy: str = field(
        default="allow",
        metadata=spec(
            "-", None, None, "rival government's policy at step 0", "July 2024", choices=STRATEGIES
        ),
    )
    providers: tuple[Provider, ...] = field(default_factory=_default_providers)

    def __post_init__(self) -> None:
        _validate_fields(self, "")
        providers = self.providers
        if isinstance(providers, list):
            providers = tuple(providers)
        if not isinstance(providers, tuple) or not all(isinstance(p, Provider) for p in providers):
            raise ValueError(f"providers={providers!r}: expected a sequence of Provider")
        lineup = ", ".join(f"{p.name!r} ({p.channel})" for p in providers)
        if not any(p.foreign for p in providers):
            raise ValueError(
                f"providers=[{lineup}]: expected at least one foreign (direct or partner) provider"
            )
        if not any(not p.foreign for p in providers):
            raise ValueError(f"providers=[{lineup}]: expected at least one domestic provider")
        names = [p.name for p in providers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"providers: duplicate name {duplicates[0]!r}; names must be unique")
        object.__setattr__(self, "providers", providers)

    def replace(self, **changes: Any) -> Params:
        """A validated copy with ``changes`` applied; unknown names are rejected."""
        valid = field_names()
        for key in changes:
            if key not in valid:
                raise _unknown_key_error("", key, valid)
        if "providers" in changes:
            changes["providers"] = tuple(
                p if isinstance(p, Provider) else _provider_from_mapping(p, i)
                for i, p in enumerate(changes["providers"])
            )
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_toml(cls, path: str | Path) -> Params:
        """Parameters from a TOML file (flat keys plus ``[[providers]]``; ``base`` names a
        scenario whose values the file overrides)."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ValueError(f"{path}: cannot read scenario file ({exc.strerror})") from exc
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}: cannot read scenario file (not UTF-8 at byte {exc.start}); "
                "expected a UTF-8 TOML file"
            ) from exc
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: malformed TOML ({exc})") from exc
        return params_from_mapping(data, origin=str(path))

    # Indexed views the core uses.
    @property
    def n_providers(self) -> int:
        return len(self.providers)

    @property
    def foreign_mask(self) -> tuple[bool, ...]:
        return tuple(p.foreign for p in self.providers)


def field_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(Params))


def scalar_fields() -> tuple[dataclasses.Field[Any], ...]:
    return tuple(f for f in dataclasses.fields(Params) if f.name != "providers")


_META_KEYS = {"name", "description", "base"}


def _provider_from_mapping(data: Any, index: int) -> Provider:
    if not isinstance(data, Mapping):
        raise ValueError(f"providers[{index}]={data!r}: expected a table of provider fields")
    valid = {f.name for f in dataclasses.fields(Provider)}
    for key in data:
        if key not in valid:
            raise _unknown_key_error(f"providers[{index}].", key, valid)
    for required in ("name", "channel"):
        if required not in data:
            raise ValueError(f"providers[{index}]: missing required key {required!r}")
    if not isinstance(data["name"], str):
        raise ValueError(f"providers[{index}].name={data['name']!r}: expected a string")
    return Provider(**dict(data))


def params_from_mapping(data: Mapping[str, Any], origin: str = "") -> Params:
    """Build :class:`Params` from a parsed TOML mapping; errors are prefixed with ``origin``."""
    prefix = f"{origin}: " if origin else ""
    try:
        valid = set(field_names()) | _META_KEYS
        for key in data:
            if key not in valid:
                raise _unknown_key_error("", key, valid)
        base = data.get("base")
        params = load_scenario(base) if base is not None else Params()
        changes = {k: v for k, v in data.items() if k not in _META_KEYS}
        return params.replace(**changes)
    except ValueError as exc:
        raise ValueError(f"{prefix}{exc}") from None
    except TypeError as exc:  # a provider table with a wrong shape
        raise ValueError(f"{prefix}{exc}") from None


_SCENARIO_PACKAGE = "sim.scenarios"
_LOADING: set[str] = set()


def list_scenarios() -> dict[str, str]:
    """Named scenarios shipped with the package: name -> one-line description."""
    out: dict[str, str] = {}
    for entry in sorted(resources.files(_SCENARIO_PACKAGE).iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            data = tomllib.loads(entry.read_text(encoding="utf-8"))
            out[entry.name.removesuffix(".toml")] = str(data.get("description", ""))
    return out


def load_scenario(name: str) -> Params:
    """The named scenario's parameters (see :func:`list_scenarios`)."""
    if not isinstance(name, str):
        raise ValueError(f"scenario={name!r}: expected a scenario name")
    entry = resources.files(_SCENARIO_PACKAGE).joinpath(f"{name}.toml")
    if not entry.is_file():
        raise unknown_choice(f"scenario={name!r}: unknown scenario", name, sorted(list_scenarios()))
    if name in _LOADING:
        raise ValueError(f"scenario={name!r}: 'base' chain refers back to itself")
    _LOADING.add(name)
    try:
        data = tomllib.loads(entry.read_text(encoding="utf-8"))
        if name == "seed":
            # The root scenario: build from field defaults plus its own providers table.
            changes = {k: v for k, v in data.items() if k not in _META_KEYS}
            providers = tuple(
                _provider_from_mapping(p, i) for i, p in enumerate(changes.pop("providers"))
            )
            base = Params(providers=providers)
            return base.replace(**changes)
        return params_from_mapping(data, origin=f"scenario {name!r}")
    finally:
        _LOADING.discard(name)


def parameter_table() -> list[dict[str, Any]]:
    """One row per parameter (scalars, then provider fields) with unit, range, meaning, source
    and the ``seed`` default: the single source of ``docs/ODD.md``'s parameter table."""
    seed = load_scenario("seed")
    rows = []
    for f in scalar_fields():
        rows.append({"name": f.name, "default": getattr(seed, f.name), **f.metadata})
    for f in dataclasses.fields(Provider):
        rows.append({"name": f"providers[].{f.name}", "default": None, **f.metadata})
    return rows
