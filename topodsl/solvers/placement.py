"""Placement lints: where a workload's parallel groups land badly on the topology.

Three findings, each naming the group and the link or device at fault:

``tp-scale-out``
    A tensor-parallel group whose members talk over a scale-out link: a ring hop between two
    of its members is routed (on the shortest paths, as the collective estimates route it)
    through a NIC or a network switch, instead of staying inside the scale-up fabric (NVLink,
    NVSwitch, PCIe). Tensor parallelism exchanges activations every layer; it belongs inside
    one NVLink domain.
``ring-crossing``
    A data-parallel (or any) group whose ring, in rank order, sends two of its hops over the
    same link in the same direction: that link carries twice the ring's traffic, and another
    rank order would avoid it. Reported for links between switches (a spine link) and any
    other link alike.
``shared-bottleneck``
    Groups of one dimension that run at once and meet at the busiest element of their ring
    step: two or more groups load the link or device that limits the step.

>>> from topodsl import loads
>>> t = loads('''
... link nv { bandwidth = 450 GB/s }
... link net { bandwidth = 50 GB/s }
... cluster c {
...     node n[2] { gpu g[2]; nvswitch s; nic x[2] { bandwidth = 50 GB/s }
...                 connect g[*] -- s via nv; connect g[i] -- x[i] via net }
...     switch leaf
...     connect n[*].x[*] -- leaf via net
...     workload bad { gpus = n[*].g[*], parallel { tp = 2, order = "dp, tp" } }
... }''')
>>> [(f.lint, f.dimension, f.group) for f in placement_lints(t, t.workloads[0]).findings]
[('tp-scale-out', 'tp', 0), ('tp-scale-out', 'tp', 1)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..kinds import KIND_CODE
from ..topology import Topology
from .collective import _ring, _Router, router_for

__all__ = ["Finding", "PlacementResult", "placement_lints", "LINTS"]

#: The lints, in the order they are reported.
LINTS: tuple[str, ...] = ("tp-scale-out", "ring-crossing", "shared-bottleneck")

_SCALE_OUT = (KIND_CODE["nic"], KIND_CODE["switch"])
_SWITCHES = tuple(KIND_CODE[k] for k in ("switch", "nvswitch", "pcie_switch", "cxl_switch"))


@dataclass(frozen=True, slots=True)
class Finding:
    """One placement problem: which ``lint``, in which ``dimension`` and ``group`` (its index
    among the dimension's groups), on which ``element`` (a link ``a -> b`` or a device), and
    a ``message`` a person can act on."""

    lint: str
    dimension: str
    group: int
    element: str
    message: str


@dataclass(frozen=True)
class PlacementResult:
    """The findings of one workload, by lint, and the groups that were checked."""

    workload: str
    findings: tuple[Finding, ...]
    groups: dict[str, int]

    def count(self, lint: str) -> int:
        """How many findings of ``lint``."""
        return sum(1 for f in self.findings if f.lint == lint)


def placement_lints(topology: Topology, workload, *, forwarding: str = "hardware"):
    """Check where ``workload``'s parallel groups land (see the module docstring).

    Returns
    -------
    PlacementResult
    """
    from ..workload import parallel_groups

    from .collective import check_work

    check_work(topology, workload.ranks)
    router = router_for(topology, forwarding)
    ids = topology.nodes.ids
    kind = topology.nodes.kind
    p = workload.parallel
    findings: list[Finding] = []
    checked: dict[str, int] = {}
    for dim in ("tp", "dp", "pp", "ep"):
        if getattr(p, dim) < 2:
            continue
        groups = parallel_groups(workload, dim)
        checked[dim] = len(groups)
        per_group_keys = []
        for k, g in enumerate(groups):
            hops = _hops(g, dim)
            count: dict[int, int] = {}
            scale_out = None
            for hop in hops:
                keys, share, value, _ = router.path(hop.src, hop.dst)
                for key in keys[share > 0].tolist():
                    count[key] = count.get(key, 0) + 1
                if dim == "tp" and scale_out is None:
                    scale_out = _scale_out_element(router, keys, kind)
            per_group_keys.append(count)
            if scale_out is not None:
                findings.append(Finding(
                    "tp-scale-out", dim, k, scale_out,
                    f"tensor-parallel group {k} ({ids[int(g[0])]} ...) talks over {scale_out}: "
                    "keep each tensor-parallel group inside one NVLink domain",
                ))  # fmt: skip
            for key, times in sorted(count.items()):
                if times >= 2 and key < router.n_bundles:
                    load = router._load(key, 0.0, 0.0)
                    element = f"{load.source} -> {load.target}"
                    findings.append(Finding(
                        "ring-crossing", dim, k, element,
                        f"the {dim} ring of group {k} ({ids[int(g[0])]} ...) crosses {element} "
                        f"{times} times in the same direction: order its ranks so that each "
                        "link carries one hop",
                    ))  # fmt: skip
        findings += _shared_bottlenecks(router, dim, groups, per_group_keys)
    order = {lint: i for i, lint in enumerate(LINTS)}
    findings.sort(key=lambda f: (order[f.lint], ("tp", "dp", "pp", "ep").index(f.dimension),
                                 f.group, f.element))  # fmt: skip
    return PlacementResult(workload.name, tuple(findings), checked)


def _scale_out_element(router: _Router, keys: np.ndarray, kind: np.ndarray) -> str | None:
    """The first link of a path that touches a NIC or a network switch, named."""
    for key in keys.tolist():
        if key >= router.n_bundles:
            continue
        load = router._load(key, 0.0, 0.0)
        t = router.t
        link = load.row
        ends = (int(t.links.src[link]), int(t.links.dst[link]))
        if any(kind[e] in _SCALE_OUT for e in ends):
            return f"{load.source} -> {load.target}"
    return None


def _shared_bottlenecks(router: _Router, dim: str, groups, per_group_keys) -> list[Finding]:
    """Groups that meet at the link between switches that limits their dimension's ring step
    when every group runs at once."""
    if len(groups) < 2:
        return []
    from .collective import Transfer

    step = [Transfer(t.src, t.dst, 1.0) for g in groups for t in _hops(g, dim)]
    _, _, keys, total, cap = router.loads(step)
    if len(keys) == 0:
        return []
    key = int(keys[np.argmax(total / cap)])
    if key >= router.n_bundles:
        return []
    worst = router._load(key, 0.0, 0.0)
    t = router.t
    ends = (int(t.links.src[worst.row]), int(t.links.dst[worst.row]))
    if not all(t.nodes.kind[e] in _SWITCHES for e in ends):
        return []
    users = [k for k, count in enumerate(per_group_keys) if key in count]
    if len(users) < 2:
        return []
    element = f"{worst.source} -> {worst.target}"
    shown = ", ".join(map(str, users[:6])) + (" ..." if len(users) > 6 else "")
    return [Finding(
        "shared-bottleneck", dim, users[0], element,
        f"{len(users)} {dim} groups ({shown}) meet at {element}, the busiest link of their "
        "ring step when they run at once: spread them over separate links",
    )]  # fmt: skip


def _hops(g: np.ndarray, dim: str):
    """The ring of a group in rank order; a pipeline's chain of stages has no wrap-around."""
    hops = _ring(g, 1.0)
    return hops[:-1] if dim == "pp" else hops
