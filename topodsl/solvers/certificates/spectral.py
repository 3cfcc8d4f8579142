"""The spectral bound: the second eigenvalue of a Laplacian reduced to the endpoints.

On the :class:`~topodsl.solvers.certificates.network.Relaxation` of the certificate network
(undirected weights no larger than either direction's capacity, device limits relaxed), let S
be the Schur complement of the weighted Laplacian onto the endpoints and μ₂ its second-smallest
eigenvalue. Then ``bisection >= μ₂ · ⌊n/2⌋ · ⌈n/2⌉ / n`` (proof in ``docs/solvers.md``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..flow import sorted_unique
from .network import Relaxation

__all__ = ["spectral_bound"]


def spectral_bound(rel: Relaxation, n: int) -> tuple[float, np.ndarray] | None:
    """(μ₂, a Fiedler vector over the endpoints) of ``rel`` with endpoints ``0 .. n - 1``, or
    None when the reduced Laplacian cannot be formed.

    >>> import numpy as np
    >>> ring = Relaxation(4, np.array([0, 1, 2, 0]), np.array([1, 2, 3, 3]),
    ...                   np.full(4, 1.0), np.full(4, 1.0), np.full(4, np.inf))
    >>> round(spectral_bound(ring, 4)[0], 9)      # a 4-cycle: eigenvalues 0, 2, 2, 4
    2.0
    """
    from scipy.linalg import eigh
    from scipy.sparse.csgraph import connected_components
    from scipy.sparse.linalg import splu

    w = rel.weights(symmetric=True)
    pos = w > 0
    a, b, w = rel.a[pos], rel.b[pos], w[pos]
    nv = rel.num_nodes
    W = sp.coo_array((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(nv, nv)).tocsr()
    W.sum_duplicates()
    deg = np.asarray(W.sum(axis=1)).ravel()
    lap = sp.csr_array(sp.diags_array(deg) - W)
    e_idx = np.arange(n)
    others = np.arange(n, nv)
    L_EE = lap[e_idx][:, e_idx].toarray()
    if len(others):
        # Nodes with no weighted path to an endpoint carry nothing: drop them.
        _, comp = connected_components(W, directed=False)
        live = np.isin(comp, sorted_unique(comp[e_idx]))
        others = others[live[others]]
    if len(others):
        L_NN = lap[others][:, others].tocsc()
        L_NE = lap[others][:, e_idx].toarray()
        try:
            lu = splu(L_NN)
        except RuntimeError:
            return None
        S = L_EE - L_NE.T @ lu.solve(L_NE)
    else:
        S = L_EE
    S = (S + S.T) / 2
    scale = float(np.abs(S).max()) or 1.0
    vals, vecs = eigh(S / scale)
    if len(vals) < 2:
        return None
    # Guard against rounding in the solve and the eigensolver (both backward stable: errors of
    # a few ulps of the largest entry).
    mu2 = max(0.0, float(vals[1]) * scale - 1e-12 * len(vals) * scale)
    return mu2, vecs[:, 1]
