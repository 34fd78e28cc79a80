r"""Closed forms (and one ODE limit) that the model's decision rules are checked against.

Pure functions of NumPy arrays; no simulation and no third-party oracle here.

Finite populations (Traulsen, Nowak & Pacheco, Phys. Rev. E 74, 011909, 2006; "TNP")
    Two strategies, a mutant ``A`` and a resident ``B``, payoffs ``a = A[m, m]``, ``b = A[m, r]``,
    ``c = A[r, m]``, ``d = A[r, r]`` (``m`` the mutant's index, ``r = 1 - m``). With ``j`` of ``Z``
    individuals on ``A`` and self-interaction excluded,
    ``f_A(j) = ((j-1) a + (Z-j) b) / (Z-1)`` and ``f_B(j) = (j c + (Z-j-1) d) / (Z-1)``.
    Under the Fermi pairwise comparison process with intensity ``beta``, ``k`` mutants take over
    with probability ``phi_k = sum_{i<k} prod_{j<=i} gamma_j / sum_{i<Z} prod_{j<=i} gamma_j``,
    ``gamma_j = exp(-beta (f_A(j) - f_B(j)))`` (TNP eq. 4).

Logit quantal response equilibrium (McKelvey & Palfrey 1995)
    In a 2 x 2 game ``(A, B)`` the row player's probability of strategy 0 is
    ``x = expit(lambda ((A y)_0 - (A y)_1))``, the column player's ``y`` likewise from ``B``.

Inspection game (Tsebelis 1990)
    Mixed equilibrium: violation with probability ``h/a``, inspection with ``g/(g+p)``.

Increasing returns (Arthur 1989)
    The adoption lead is a random walk absorbed at two barriers: gambler's ruin.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.integrate import solve_ivp
from scipy.optimize import fsolve
from scipy.special import expit

from sim.games import MatrixGame

Float = NDArray[np.float64]


def tnp_payoffs(A: Float, size: int, mutant: int) -> tuple[Float, Float]:
    """``f_A(j), f_B(j)`` for ``j = 1..Z-1`` individuals on ``mutant`` (arrays of ``Z - 1``)."""
    res = 1 - mutant
    a, b, c, d = A[mutant, mutant], A[mutant, res], A[res, mutant], A[res, res]
    j = np.arange(1, size)
    f_a = ((j - 1) * a + (size - j) * b) / (size - 1)
    f_b = (j * c + (size - j - 1) * d) / (size - 1)
    return f_a, f_b


def tnp_fixation(A: Float, size: int, beta: float, mutant: int, start: int = 1) -> float:
    """Probability that ``start`` individuals on ``mutant`` take over a population of ``size``
    under the Fermi process (TNP eq. 4; ``start = 1`` is the single-mutant formula)."""
    f_a, f_b = tnp_payoffs(A, size, mutant)
    products = np.concatenate([[1.0], np.cumprod(np.exp(-beta * (f_a - f_b)))])
    return float(products[:start].sum() / products.sum())


def constant_advantage_fixation(advantage: float, size: int, beta: float) -> float:
    """Single-mutant fixation when the mutant always earns ``s = advantage`` more:
    ``(1 - exp(-beta s)) / (1 - exp(-beta s Z))``, and ``1/Z`` when ``beta = 0`` (neutral)."""
    if beta == 0:
        return 1.0 / size
    return (1 - math.exp(-beta * advantage)) / (1 - math.exp(-beta * advantage * size))


def quasi_stationary_mean(A: Float, size: int, beta: float) -> float:
    """Mean share of strategy 0 in the quasi-stationary distribution of the Fermi birth-death
    chain on ``k = 1..Z-1`` (absorption ignored): ``pi(k+1) / pi(k) = T+(k) / T-(k+1)`` with
    ``T+(k) = (Z-k)/Z k/(Z-1) expit(beta (f_0 - f_1))`` and
    ``T-(k) = k/Z (Z-k)/(Z-1) expit(-beta (f_0 - f_1))`` (TNP eq. 2)."""
    f_0, f_1 = tnp_payoffs(A, size, mutant=0)  # index j - 1 for j = 1..Z-1 individuals on 0
    k = np.arange(1, size)
    up = (size - k) / size * k / (size - 1) * expit(beta * (f_0 - f_1))
    down = k / size * (size - k) / (size - 1) * expit(-beta * (f_0 - f_1))
    log_pi = np.concatenate([[0.0], np.cumsum(np.log(up[:-1]) - np.log(down[1:]))])
    pi = np.exp(log_pi - log_pi.max())
    return float((pi * k).sum() / pi.sum() / size)


def hawk_dove(value: float, cost: float) -> Float:
    """Hawk (0) / Dove (1) payoffs ``[[(V-C)/2, V], [0, V/2]]``; interior rest point ``V/C``."""
    return np.array([[(value - cost) / 2, value], [0.0, value / 2]])


def replicator_limit(A: Float, x0: float, horizon: float = 200.0) -> float:
    """Share of strategy 0 at ``horizon`` under the replicator ODE
    ``x' = x (1-x) (f_0 - f_1)`` from ``x0`` (SciPy, tight tolerances)."""

    def rhs(_t: float, x: Float) -> Float:
        mix = np.array([x[0], 1 - x[0]])
        f = A @ mix
        return np.array([x[0] * (1 - x[0]) * (f[0] - f[1])])

    sol = solve_ivp(rhs, (0.0, horizon), [x0], rtol=1e-10, atol=1e-12)
    return float(sol.y[0, -1])


def logit_equilibrium(A: Float, B: Float, rationality: float) -> tuple[float, float]:
    """Logit QRE ``(x, y)`` of a 2 x 2 game: probabilities of strategy 0 for the row and the
    column player, the fixed point solved with SciPy from ``(1/2, 1/2)``."""

    def gap(z: Float) -> Float:
        x, y = z
        row = A @ np.array([y, 1 - y])
        col = np.array([x, 1 - x]) @ B
        return np.array(
            [x - expit(rationality * (row[0] - row[1])), y - expit(rationality * (col[0] - col[1]))]
        )

    x, y = fsolve(gap, [0.5, 0.5], xtol=1e-13)
    return float(x), float(y)


def inspection_game(gain: float, penalty: float, cost: float, loss: float) -> MatrixGame:
    """Tsebelis (1990) inspection game. Row: provider, 0 comply (stop serving), 1 violate (serve
    against the mandate); column: government, 0 inspect, 1 not. Provider: violating gains ``g``
    unless inspected, then loses ``p``; government: inspecting costs ``h``, an undetected
    violation costs ``a``. Mixed equilibrium: violation ``h/a``, inspection ``g/(g+p)``."""
    provider = np.array([[0.0, 0.0], [-penalty, gain]])
    government = np.array([[-cost, 0.0], [-cost, -loss]])
    return MatrixGame(provider, government)


def arthur_lockin_probability(lead: int, upper: int, lower: int, r_probability: float) -> float:
    """Probability that technology A locks in from lead ``d0`` (Arthur 1989): between the
    barriers the lead moves +1 with the R-type probability ``p`` and is absorbed at ``upper``
    (A) or ``lower`` (B), so ``P = (1 - (q/p)^(d0 - lower)) / (1 - (q/p)^(upper - lower))``,
    and ``(d0 - lower) / (upper - lower)`` when ``p = 1/2``."""
    i, n = lead - lower, upper - lower
    if r_probability == 0.5:
        return i / n
    ratio = (1 - r_probability) / r_probability
    return (1 - ratio**i) / (1 - ratio**n)
