r"""Population games played with the model's own decision rules (:mod:`sim.rules`).

A matrix game and a finite population (or two) of individuals revising their strategies with
one of the rules the model uses: ``fermi`` (pairwise imitation), ``logit``, ``best_response``,
``fictitious_play`` or ``roth_erev``. The rules are called, never copied, so these games check
the rules themselves against theory (``sim/validation.py``).

Payoff convention
    ``MatrixGame(A)``: one population, symmetric game. ``A`` is ``(S, S)``; ``A[i, j]`` is what
    strategy ``i`` earns against strategy ``j``.
    ``MatrixGame(A, B)``: two populations, row and column. ``A`` and ``B`` are both ``(S_r, S_c)``
    with the same indexing: against column strategy ``j``, row strategy ``i`` earns ``A[i, j]``
    and the column individual playing ``j`` against row strategy ``i`` earns ``B[i, j]``.

    In a finite population of size ``Z`` with ``n_j`` individuals on strategy ``j``, an
    individual's payoff is its average over everyone else it could meet, without
    self-interaction (Traulsen, Nowak & Pacheco, Phys. Rev. E 74, 011909, 2006):
        one population:   pi_k(a) = (sum_j A[a, j] n_j - A[a, x_k]) / (Z - 1)
        two populations:  pi_k(a) = sum_j A[a, j] m_j / Z'       (m: the other population's
                                                                 counts, Z' its size)
    where ``x_k`` is individual ``k``'s own current strategy. ``pi_k`` is the payoff vector over
    all of ``k``'s strategies, the ``(R, n, A)`` block every rule takes. With ``size=1`` a
    two-population game is a two-player repeated game (fictitious play in its textbook form,
    Brown 1951); a one-population game needs ``size >= 2``.

Revision (asynchronous, one individual per population per step)
    Each step, in each population, one uniformly chosen individual (the focal) revises; the
    others keep their strategy. This is the birth-death (Moran-type) pairwise comparison process
    of Traulsen et al. (2006), whose fixation probability has a closed form. How each rule is
    used:

    * ``fermi``: :func:`sim.rules.fermi_imitation` is called on the whole ``(R, Z, S)`` block
      (every individual's payoff vector), so that the model it compares with is a uniformly
      chosen *other* individual earning its own payoff (self excluded), exactly the TNP process;
      of the actions it returns only the focal individual's is applied.
    * ``logit`` and ``best_response`` depend on the focal's own payoff vector only; the rule is
      called on the focal's ``(R, 1, S)`` block.
    * ``fictitious_play`` and ``roth_erev`` keep a memory per individual that every individual
      updates every step (as in :mod:`sim.engine`); the rule is called on the whole block and
      only the focal's new action is applied. With ``size=1`` the focal is the player, so both
      players of a two-player game move every step (simultaneous fictitious play).

    Counts are recorded at step 0 and after every step: ``counts`` is ``(steps + 1, S)`` per
    population. Absorbing states: under ``fermi`` a strategy nobody plays never comes back, so
    ``fixed`` (the strategy everyone plays at the end, else ``None``) is where the process stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sim import rules
from sim.dynamics import option_counts

Float = NDArray[np.float64]
Actions = NDArray[np.int8]

GAME_RULES = tuple(r for r in rules.RULES if r != "fixed")


@dataclass(frozen=True)
class MatrixGame:
    """A symmetric game ``MatrixGame(A)`` or a two-population game ``MatrixGame(A, B)``."""

    A: Float
    B: Float | None = None

    def __init__(self, A: ArrayLike, B: ArrayLike | None = None) -> None:
        a = np.asarray(A, dtype=float)
        if a.ndim != 2 or min(a.shape) < 2 or not np.isfinite(a).all():
            raise ValueError(f"A={A!r}: expected a finite 2-D payoff matrix, at least 2 x 2")
        if B is None:
            if a.shape[0] != a.shape[1]:
                raise ValueError(f"A shape {a.shape}: a symmetric game needs a square matrix")
            b = None
        else:
            b = np.asarray(B, dtype=float)
            if b.shape != a.shape or not np.isfinite(b).all():
                raise ValueError(f"B shape {b.shape}: expected finite and the shape of A {a.shape}")
        object.__setattr__(self, "A", a)
        object.__setattr__(self, "B", b)

    @property
    def populations(self) -> int:
        return 1 if self.B is None else 2

    @property
    def n_strategies(self) -> tuple[int, ...]:
        return (self.A.shape[0],) if self.B is None else self.A.shape

    def own_payoffs(self, population: int) -> Float:
        """``(S_own, S_other)`` matrix of population ``population``'s payoffs."""
        if self.B is None:
            return self.A
        return self.A if population == 0 else self.B.T


@dataclass(frozen=True)
class PopulationRun:
    """Result of :func:`run_population`.

    ``counts``: ``(steps + 1, S)`` for a symmetric game, a tuple of one such array per
    population for a two-population game. ``fixed``: the strategy that took over (per
    population for two populations), or ``None``.
    """

    counts: NDArray[np.int64] | tuple[NDArray[np.int64], ...]
    fixed: int | tuple[int | None, ...] | None


def _payoff_block(
    game: MatrixGame, pop: int, actions: list[Actions], who: NDArray[np.intp] | None = None
) -> Float:
    """Payoff vectors of population ``pop``: every individual's ``(R, Z, S)``, or with ``who``
    ``(R,)`` only that individual's in each run, ``(R, 1, S)``."""
    own = game.own_payoffs(pop)
    x = actions[pop]
    if who is not None:
        x = x[np.arange(x.shape[0]), who][:, None]
    if game.B is None:
        size = actions[0].shape[1]
        counts = option_counts(actions[0], own.shape[0]).astype(float)  # (R, S)
        against_all = counts @ own.T  # (R, S): sum_j A[a, j] n_j
        return np.asarray((against_all[:, None, :] - own.T[x]) / (size - 1))
    other = actions[1 - pop]
    mix = option_counts(other, own.shape[1]) / other.shape[1]  # (R, S_other)
    block = mix @ own.T  # (R, S_own)
    return np.broadcast_to(block[:, None, :], (*x.shape, own.shape[0])).copy()


@dataclass
class _Population:
    actions: Actions  # (R, Z)
    memory: Float  # (R, Z, S)


def _check_rule(rule: str) -> None:
    if rule not in GAME_RULES:
        raise ValueError(f"rule={rule!r}: expected one of {', '.join(GAME_RULES)}")


def _initial(game: MatrixGame, initial: ArrayLike, size: int, runs: int) -> list[Actions]:
    """Actions ``(R, Z)`` per population from counts per strategy (same for every run)."""
    given = np.asarray(initial, dtype=object)
    per_pop = [initial] if game.B is None else list(initial)  # type: ignore[arg-type]
    if len(per_pop) != game.populations:
        raise ValueError(f"initial={given.tolist()!r}: expected one count list per population")
    out = []
    for pop, counts in enumerate(per_pop):
        c = np.asarray(counts)
        s = game.n_strategies[pop]
        if c.shape != (s,) or (c < 0).any() or c.sum() != size or c.dtype.kind not in "iu":
            raise ValueError(
                f"initial={np.asarray(counts).tolist()!r}: expected {s} whole counts >= 0 "
                f"summing to size={size}"
            )
        row = np.repeat(np.arange(s), c).astype(np.int8)
        out.append(np.tile(row, (runs, 1)))
    return out


def _step(
    game: MatrixGame,
    pops: list[_Population],
    rule: str,
    beta: float,
    forgetting: float,
    t: int,
    rng: np.random.Generator,
) -> None:
    """One revision in every population of every run, in place (see the module docstring)."""
    everyone = [p.actions for p in pops]
    focals = [
        np.minimum(
            (rng.random(p.actions.shape[0]) * p.actions.shape[1]).astype(np.intp),
            p.actions.shape[1] - 1,
        )
        for p in pops
    ]
    proposals = []
    for pop, p in enumerate(pops):
        focal = focals[pop]
        rows = np.arange(len(focal))
        match rule:
            case "fermi":
                block = _payoff_block(game, pop, everyone)
                new = rules.fermi_imitation(block, p.actions, rng, beta)[rows, focal]
            case "logit" | "best_response":
                new = rules.decide(
                    rule,
                    _payoff_block(game, pop, everyone, focal),
                    p.actions[rows, focal][:, None],
                    p.memory[rows, focal][:, None, :],
                    t,
                    rng,
                    rationality=beta,
                    intensity=beta,
                    forgetting=forgetting,
                )[0][:, 0]
            case _:
                chosen, p.memory = rules.decide(
                    rule,
                    _payoff_block(game, pop, everyone),
                    p.actions,
                    p.memory,
                    t,
                    rng,
                    rationality=beta,
                    intensity=beta,
                    forgetting=forgetting,
                )
                new = chosen[rows, focal]
        proposals.append(new)
    # simultaneous across populations: every payoff above is at the state before this step
    for p, focal, new in zip(pops, focals, proposals, strict=True):
        p.actions[np.arange(len(focal)), focal] = new


def _fixed(counts: NDArray[np.int64]) -> int | None:
    full = np.flatnonzero(counts == counts.sum())
    return int(full[0]) if full.size else None


def run_population(
    game: MatrixGame,
    rule: str = "fermi",
    *,
    beta: float = 1.0,
    size: int,
    steps: int,
    initial: ArrayLike,
    rng: int | np.random.Generator | None = None,
    forgetting: float = 0.05,
) -> PopulationRun:
    """Play ``game`` for ``steps`` steps in finite populations of ``size`` revising by ``rule``.

    ``beta`` is the rule's intensity: Fermi selection intensity or logit rationality, in the
    inverse of the payoff unit (unused by the other rules); ``forgetting`` is Roth-Erev's.
    ``initial`` gives counts per strategy (one list per population for a two-population game).
    One generator drives the run (``rng``: seed or Generator).
    """
    counts = simulate(
        game,
        rule,
        beta=beta,
        size=size,
        steps=steps,
        initial=initial,
        runs=1,
        rng=rng,
        forgetting=forgetting,
    )
    per_pop = tuple(c[0] for c in counts)
    fixed = tuple(_fixed(c[-1]) for c in per_pop)
    if game.B is None:
        return PopulationRun(counts=per_pop[0], fixed=fixed[0])
    return PopulationRun(counts=per_pop, fixed=fixed)


def simulate(
    game: MatrixGame,
    rule: str,
    *,
    beta: float,
    size: int,
    steps: int,
    initial: ArrayLike,
    runs: int,
    rng: int | np.random.Generator | None,
    forgetting: float = 0.05,
    record: Sequence[int] | None = None,
) -> list[NDArray[np.int64]]:
    """``runs`` independent replicates at once (the rules' leading run axis).

    Returns per population counts ``(runs, T, S)`` at the recorded steps (all ``steps + 1``
    by default, else the sorted steps in ``record``).
    """
    _check_rule(rule)
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 1:
        raise ValueError(f"size={size!r}: expected a whole number >= 1")
    if game.B is None and size < 2:
        raise ValueError(f"size={size}: a one-population game needs size >= 2")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps={steps!r}: expected a whole number >= 0")
    if not np.isfinite(beta) or beta < 0:
        raise ValueError(f"beta={beta!r}: expected a finite number >= 0")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    actions = _initial(game, initial, size, runs)
    pops = [
        _Population(a, rules.initial_memory(rule, (*a.shape, game.n_strategies[i])))
        for i, a in enumerate(actions)
    ]
    wanted = set(range(steps + 1)) if record is None else set(record)
    out: list[list[NDArray[np.int64]]] = [[] for _ in pops]

    def keep(t: int) -> None:
        if t in wanted:
            for i, p in enumerate(pops):
                out[i].append(option_counts(p.actions, game.n_strategies[i]))

    keep(0)
    for t in range(steps):
        _step(game, pops, rule, beta, forgetting, t, gen)
        keep(t + 1)
    return [np.stack(o, axis=1) for o in out]


def fixation_fraction(
    game: MatrixGame,
    *,
    beta: float,
    size: int,
    mutants: int,
    mutant: int,
    trials: int,
    rng: int | np.random.Generator | None,
    max_steps: int = 1_000_000,
) -> tuple[int, int]:
    """Fermi imitation in a symmetric 2-strategy game from ``mutants`` individuals on strategy
    ``mutant``: returns (runs in which ``mutant`` took over, runs absorbed), over ``trials``
    replicates run together until every one is absorbed (or ``max_steps``)."""
    if game.B is not None or game.A.shape != (2, 2):
        raise ValueError("game: fixation_fraction needs a symmetric 2 x 2 game")
    if not 0 < mutants < size:
        raise ValueError(f"mutants={mutants}: expected 0 < mutants < size={size}")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    initial = [size - mutants, mutants] if mutant == 1 else [mutants, size - mutants]
    actions = _initial(game, initial, size, trials)[0]
    pops = [_Population(actions, np.zeros((*actions.shape, 2)))]
    took_over = absorbed = 0
    for t in range(max_steps):
        _step(game, pops, "fermi", beta, 0.0, t, gen)
        if t % 50 == 49 or t == max_steps - 1:
            # absorbed runs never leave their state: tally them and drop them from the batch
            on_mutant = (pops[0].actions == mutant).sum(axis=1)
            done = (on_mutant == 0) | (on_mutant == size)
            took_over += int((on_mutant == size).sum())
            absorbed += int(done.sum())
            pops[0] = _Population(pops[0].actions[~done], pops[0].memory[~done])
            if not len(pops[0].actions):
                break
    return took_over, absorbed


def arthur_adoption(
    *,
    base_payoffs: ArrayLike,
    returns: ArrayLike,
    r_type_probability: float,
    initial_adopters: tuple[int, int],
    trials: int,
    rng: int | np.random.Generator | None,
    max_adopters: int = 100_000,
) -> NDArray[np.int8]:
    """Arthur's (1989) adoption process with increasing returns; returns the technology each
    of ``trials`` runs locks into (0 = A, 1 = B; -1 if still open after ``max_adopters``).

    Adopters (enterprises) arrive one at a time: with probability ``r_type_probability`` an
    R-type, else an S-type. A type-``t`` adopter values technology ``k`` at
    ``base_payoffs[t, k] + returns[t] * n_k`` (``n_k`` earlier adopters of ``k``; shapes
    ``(2, 2)`` and ``(2,)``, ``returns > 0``) and chooses by :func:`sim.rules.best_response`.
    Type ``t`` prefers A while the lead ``d = n_A - n_B`` exceeds
    ``(base[t, 1] - base[t, 0]) / returns[t]``; once ``d`` is past both types' thresholds,
    every later adopter picks the leader and the market is locked in.
    """
    base = np.asarray(base_payoffs, dtype=float)
    gain = np.asarray(returns, dtype=float)
    if base.shape != (2, 2) or gain.shape != (2,) or (gain <= 0).any():
        raise ValueError("base_payoffs (2, 2) and returns (2,) > 0 expected (increasing returns)")
    if not 0 < r_type_probability < 1:
        raise ValueError(f"r_type_probability={r_type_probability}: expected in (0, 1)")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    thresholds = (base[:, 1] - base[:, 0]) / gain
    adopters = np.tile(np.asarray(initial_adopters, dtype=float), (trials, 1))  # (R, 2)
    current = np.zeros((trials, 1), dtype=np.int8)  # unused by best_response

    def locked() -> NDArray[np.int8]:
        lead = adopters[:, 0] - adopters[:, 1]
        out = np.where(lead > thresholds.max(), 0, np.where(lead < thresholds.min(), 1, -1))
        return out.astype(np.int8)

    for _ in range(max_adopters):
        state = locked()
        if (state >= 0).all():
            break
        kind = (gen.random(trials) >= r_type_probability).astype(np.intp)  # 0 R, 1 S
        value = base[kind] + gain[kind][:, None] * adopters  # (R, 2)
        choice = rules.best_response(value[:, None, :], current, gen)[:, 0]
        adopters[np.arange(trials), choice] += 1.0
    return locked()
