r"""The two per-step passes over the enterprise network, compiled with numba.

Each walks the CSR arrays once and accumulates as it goes. In NumPy each took several passes
and large temporaries (the revisers' rows copied out of the adjacency, a cell index per entry,
a ``bincount``; per edge a boolean and a weighted copy) and, at 100,000 enterprises, half of
the ``seed`` step, most of it waiting on memory (``docs/performance.md``). The loops add in the
order :func:`numpy.bincount` did, so :func:`neighbour_option_sums` changed no result of the
model, bit for bit; :func:`agreeing_weight` adds the edges in order where NumPy's reduction
summed pairwise, so the ``local_agreement`` output moved in its last bits only.

Compiled on first use and cached beside the sources (numba's ``cache=True``); no ``fastmath``:
every operation rounds as the same IEEE operation does in NumPy.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numpy.typing import NDArray


@numba.njit(cache=True, nogil=True)
def _option_sums(
    indptr: Any, indices: Any, node_weight: Any, nodes: Any, choice: Any, n_options: int
) -> Any:
    out = np.zeros((n_options, nodes.size))
    for r in range(nodes.size):
        node = nodes[r]
        for entry in range(indptr[node], indptr[node + 1]):
            neighbour = indices[entry]
            out[choice[neighbour], r] += node_weight[neighbour]
    return out


def neighbour_option_sums(
    indptr: NDArray[np.int64],
    indices: NDArray[np.integer[Any]],
    node_weight: NDArray[np.float64],
    nodes: NDArray[np.int64],
    choice: NDArray[np.integer[Any]],
    n_options: int,
) -> NDArray[np.float64]:
    """``out[o, r] = sum_{j in N(nodes[r])} w_j [choice[j] = o]``, options first
    ``(n_options, M)``, for a CSR graph (``indptr`` ``(n + 1,)``, ``indices`` ``(nnz,)``),
    node weights ``w`` ``(n,)`` and ``nodes`` ``(M,)``; each row's neighbours added in CSR
    order. The weights are read per node, not per entry: a small array that stays in cache,
    where a per-entry copy would be one more stream of random reads. ``choice`` ``(n,)`` must
    lie in ``[0, n_options)`` (not checked: this runs every step)."""
    out: NDArray[np.float64] = _option_sums(indptr, indices, node_weight, nodes, choice, n_options)
    return out


@numba.njit(cache=True, nogil=True)
def _agreeing_weight(first: Any, second: Any, weight: Any, bounds: Any, choice: Any) -> Any:
    out = np.zeros(bounds.size - 1)
    for run in range(bounds.size - 1):
        total = 0.0
        for edge in range(bounds[run], bounds[run + 1]):
            # branch-free: whether the ends agree is not predictable
            total += weight[edge] * (choice[first[edge]] == choice[second[edge]])
        out[run] = total
    return out


def agreeing_weight(
    first: NDArray[np.integer[Any]],
    second: NDArray[np.integer[Any]],
    weight: NDArray[np.float64],
    bounds: NDArray[np.int64],
    choice: NDArray[np.integer[Any]],
) -> NDArray[np.float64]:
    """``sum_e weight[e] [choice[first[e]] = choice[second[e]]]`` over each run's edges
    ``bounds[r] <= e < bounds[r + 1]``, ``(R,)``, added in edge order. With the edges
    ``u < v`` of a network and ``weight = 1/d_u + 1/d_v``, divided by the run's enterprises with
    neighbours, this is the mean share of an enterprise's neighbours on its own option."""
    out: NDArray[np.float64] = _agreeing_weight(first, second, weight, bounds, choice)
    return out
