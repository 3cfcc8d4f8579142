"""Lower bounds on a bisection, each a proof that holds for every balanced split.

All of them rest on one lemma (``docs/solvers.md``): if for every balanced split (A, B) there
is a feasible flow from A to B of value at least F in the flow network the cuts are measured
on, then the bisection is at least F, since every cut separating A from B is crossed by all of
that flow. So each certificate builds such a flow, or an argument about the network's arcs,
on :class:`~topodsl.solvers.certificates.network.CertificateNetwork`, which is made from the
flow core's own network and therefore obeys its forwarding model.

========================  =====================================================================
module                    certificate
========================  =====================================================================
:mod:`.network`           the certificate network; its undirected relaxation; reversibility
:mod:`.star`              the star bound: components joined to most endpoints
:mod:`.hose`              hose routing through hub components (or the endpoints: Valiant)
:mod:`.spectral`          the second eigenvalue of the relaxation's reduced Laplacian
:mod:`.fabric`            closed forms of recognised fabric generators
:mod:`.domains`           the additive domain certificate: splits through a fabric domain
========================  =====================================================================
"""

from .domains import (
    cross_domain_matching,
    domain_classes,
    fabric_arcs,
    least_pair_flow,
    network_part,
)
from .fabric import fabric_bounds
from .hose import HoseRouting, HubSet, hose_rate, hub_work, sample_hubs
from .network import (
    CertificateNetwork,
    Relaxation,
    bfs_levels,
    certificate_network,
    csr,
    mirror_arcs,
    network_is_reversible,
    row_transit,
    undirected_relaxation,
    verified_arc_mirrors,
)
from .spectral import spectral_bound
from .star import star_bound

__all__ = [
    "CertificateNetwork",
    "HoseRouting",
    "HubSet",
    "Relaxation",
    "bfs_levels",
    "certificate_network",
    "cross_domain_matching",
    "csr",
    "domain_classes",
    "fabric_arcs",
    "fabric_bounds",
    "hose_rate",
    "hub_work",
    "least_pair_flow",
    "mirror_arcs",
    "network_is_reversible",
    "network_part",
    "row_transit",
    "sample_hubs",
    "spectral_bound",
    "star_bound",
    "undirected_relaxation",
    "verified_arc_mirrors",
]
