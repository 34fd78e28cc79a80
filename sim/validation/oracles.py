"""Independent libraries asked the same questions as the closed forms (test-only extras).

Each function imports its library when called, so ``sim`` imports without them.

* egttools 0.1.14.2: fixation probabilities of the pairwise comparison process.
* nashpy 0.0.43: Nash equilibria by support enumeration.
* pygambit 17.0.0b2: the logit QRE correspondence traced by ``pygambit.qre.logit_solve_lambda``
  (the only release with a wheel for Python 3.11; 16.7.0 builds from source and gave the same
  profiles to the last digit on the game of the logit check). In 17 a game built from arrays is
  a ``StrategicGame`` and a profile is indexed by player and strategy label (``"1"``, ``"2"``).
* quantecon 0.11.4: its own fictitious play.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sim.games import MatrixGame

Float = NDArray[np.float64]


def egttools_fixation(A: Float, size: int, beta: float, mutant: int) -> float:
    """Single-mutant fixation probability of ``mutant`` against the other strategy (egttools
    ``StochDynamics``; it returns exactly 0.0 below about 1e-7)."""
    from egttools.analytical import StochDynamics

    dynamics = StochDynamics(2, A, size)
    return float(dynamics.fixation_probability(mutant, 1 - mutant, beta))


def nashpy_equilibria(A: Float, B: Float) -> list[tuple[Float, Float]]:
    """Every equilibrium ``(row mix, column mix)`` that nashpy's support enumeration finds, in
    its order."""
    import nashpy

    return [(np.asarray(r), np.asarray(c)) for r, c in nashpy.Game(A, B).support_enumeration()]


def gambit_logit_qre(A: Float, B: Float, rationality: float) -> tuple[float, float]:
    """Probabilities of strategy 0 for the row and the column player in the logit QRE at
    ``lambda = rationality`` on the principal branch (pygambit)."""
    import pygambit

    game = pygambit.StrategicGame.from_arrays(A, B)
    profile = pygambit.qre.logit_solve_lambda(game, lam=[rationality])[0].profile
    # players and their strategies are labelled "1", "2", ... by from_arrays
    return float(profile["1"]["1"]), float(profile["2"]["1"])


def quantecon_fictitious_play(game: MatrixGame, steps: int) -> tuple[float, float]:
    """quantecon's fictitious play from actions ``(0, 0)``: after ``steps`` periods, the empirical
    frequency of row strategy 1 and that of column strategy 0 (violation and inspection in the
    inspection game)."""
    import quantecon.game_theory as gt

    if game.B is None:
        raise ValueError("quantecon_fictitious_play: expected a two-population game")
    # quantecon indexes each player's payoffs by its own action first: the column player's B.T
    nfg = gt.NormalFormGame([gt.Player(game.A), gt.Player(game.B.T)])
    frequencies = gt.FictitiousPlay(nfg).time_series(steps, init_actions=(0, 0))
    return float(frequencies[0][-1, 1]), float(frequencies[1][-1, 0])
