"""Fabric generators: the links (and switches) of the connection patterns and fabrics.

Pure functions of the number of hosts and the generator's settings; no topology is needed.
The elaborator calls :func:`plan_fabric` and turns the :class:`FabricPlan` into rows.

Index space of a plan: ``0 .. H-1`` are the hosts given, in order; ``H ..`` are the new
switches, group after group in the order of :attr:`FabricPlan.groups`. So for
``leaf_spine`` with 16 hosts, 4 leaves and 2 spines, index 16 is ``leaf[0]`` and 20 is
``spine[0]``.

Patterns (links among the hosts, no switches): ``ring``, ``line``, ``mesh(dims...)``,
``torus(dims...)``, ``hypercube``, ``full_mesh``. Fabrics (switches created):
``fat_tree``, ``leaf_spine``, ``clos3``, ``dragonfly``. See :data:`GENERATORS` for the settings
each takes and ``docs/solvers.md`` for the closed-form bisection of each, proved there.

Choices worth knowing: hosts attach in order (k/2 per fat-tree edge switch, evenly over leaves
or routers); a ``clos3`` spine connects to *every* core (no core planes), so a pod's uplink is
spines x cores links; a dragonfly group's g-1 global links go to its routers round-robin in
order of the partner group; a torus dimension of 2 is one link, not two.

Examples
--------
>>> p = plan_fabric("ring", 4, {})
>>> list(zip(p.a.tolist(), p.b.tolist()))
[(0, 1), (1, 2), (2, 3), (3, 0)]
>>> p = plan_fabric("leaf_spine", 8, {"leaves": 2, "spines": 2, "oversubscription": 2})
>>> p.groups
(('leaf', 2), ('spine', 2))
>>> p.lanes[p.tier == 1].tolist()      # 4 hosts per leaf / (2:1 x 2 spines) = 1 lane each
[1.0, 1.0, 1.0, 1.0]
>>> closed_form_bisection("leaf_spine", 8, p.params).lower   # in units of the link bandwidth
2.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

import numpy as np

__all__ = [
    "FabricPlan",
    "GeneratorSpec",
    "GENERATORS",
    "MAX_FABRIC_LINKS",
    "ClosedForm",
    "plan_fabric",
    "closed_form_bisection",
    "natural_split",
    "accepted_args",
]

#: Largest number of links one pattern or fabric may create.
MAX_FABRIC_LINKS = 10_000_000

_REQUIRED = object()


@dataclass(frozen=True)
class FabricPlan:
    """What a generator builds, as arrays over the combined host + switch index space.

    ``groups`` are the switch arrays to create, in order (empty for patterns). Link ``i`` joins
    ``a[i]`` and ``b[i]``; its bandwidth is ``lanes[i]`` times that of its link type: the
    fabric's ``link`` type when ``tier[i] == 0`` (host links), its ``uplink`` type (default: the
    same) when ``tier[i] == 1`` (switch-to-switch links). ``role[i]`` indexes ``roles`` and says
    which part of the structure the link is (``"host"``, ``"leaf-spine"``...); solvers use it to
    read the structure back. ``params`` are plain numbers: the settings after defaults, plus
    derived figures such as ``hosts_per_leaf``.
    """

    groups: tuple[tuple[str, int], ...]
    a: np.ndarray
    b: np.ndarray
    lanes: np.ndarray
    tier: np.ndarray
    params: Mapping[str, Any]
    role: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    roles: tuple[str, ...] = ()

    @property
    def num_switches(self) -> int:
        """Number of switches the plan creates."""
        return sum(c for _, c in self.groups)

    @property
    def num_links(self) -> int:
        """Number of links the plan creates."""
        return len(self.a)


@dataclass(frozen=True)
class GeneratorSpec:
    """A generator's name, whether it creates switches, its settings with defaults, and help."""

    name: str
    creates_switches: bool
    args: Mapping[str, Any]
    help: str

    def signature(self) -> str:
        """Settings as text, e.g. ``leaves, spines, oversubscription = 1``."""
        parts = []
        for k, v in self.args.items():
            if k in _BANDWIDTH_ARGS:
                continue
            if v is _REQUIRED:
                parts.append(k)
            elif v is None:
                parts.append(f"{k} (optional)")
            else:
                parts.append(f"{k} = {v}")
        return ", ".join(parts)


_BANDWIDTH_ARGS = ("link_bandwidth", "uplink_bandwidth")
_BW = {"link_bandwidth": None, "uplink_bandwidth": None}

GENERATORS: dict[str, GeneratorSpec] = {
    spec.name: spec
    for spec in (
        GeneratorSpec("ring", False, {}, "each host to the next, the last back to the first"),
        GeneratorSpec("line", False, {}, "each host to the next (a linear array)"),
        GeneratorSpec(
            "mesh", False, {"dims": _REQUIRED}, "n-D grid, row-major, product(dims) = hosts"
        ),
        GeneratorSpec(
            "torus", False, {"dims": _REQUIRED}, "n-D grid with wraparound in every dimension"
        ),
        GeneratorSpec("hypercube", False, {}, "hosts i and i ^ 2**b joined; hosts a power of 2"),
        GeneratorSpec("full_mesh", False, {}, "every pair of hosts joined"),
        GeneratorSpec(
            "fat_tree", True, {"k": _REQUIRED, **_BW}, "k-ary fat tree, k even, hosts <= k^3/4"
        ),
        GeneratorSpec(
            "leaf_spine",
            True,
            {
                "leaves": _REQUIRED,
                "spines": _REQUIRED,
                "oversubscription": 1,
                "uplinks": None,
                **_BW,
            },
            "hosts spread evenly over leaves; every leaf to every spine",
        ),
        GeneratorSpec(
            "clos3",
            True,
            {
                "pods": _REQUIRED,
                "leaves": _REQUIRED,
                "spines": _REQUIRED,
                "cores": _REQUIRED,
                "oversubscription": 1,
                "spine_oversubscription": 1,
                "leaf_uplinks": None,
                "spine_uplinks": None,
                **_BW,
            },
            "3-tier Clos: leaves and spines per pod, every spine to every core",
        ),
        GeneratorSpec(
            "dragonfly",
            True,
            {
                "groups": _REQUIRED,
                "routers": _REQUIRED,
                "global_ports": None,
                "global_lanes": 1,
                "local_lanes": 1,
                **_BW,
            },
            "groups of all-to-all routers, one global link between every pair of groups",
        ),
    )
}

_ROLES: dict[str, tuple[str, ...]] = {
    "fat_tree": ("host", "edge-agg", "agg-core"),
    "leaf_spine": ("host", "leaf-spine"),
    "clos3": ("host", "leaf-spine", "spine-core"),
    "dragonfly": ("host", "local", "global"),
}


def accepted_args(generator: str) -> tuple[str, ...]:
    """Names of the settings ``generator`` accepts.

    >>> accepted_args("fat_tree")
    ('k', 'link_bandwidth', 'uplink_bandwidth')
    """
    return tuple(GENERATORS[generator].args)


# -- argument checking ------------------------------------------------------------------------


def _resolve_args(generator: str, args: Mapping[str, Any]) -> dict[str, Any]:
    spec = GENERATORS[generator]
    out: dict[str, Any] = {}
    for key in args:
        if key not in spec.args:
            close = get_close_matches(key, [k for k in spec.args if k not in _BANDWIDTH_ARGS], 1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            if key == "dims" and not spec.args:
                raise ValueError(f"{generator} takes no dimensions; write {generator}(hosts)")
            settings = spec.signature() or "none"
            raise ValueError(f"{generator} has no setting {key!r}{hint} (settings: {settings})")
    for key, default in spec.args.items():
        v = args.get(key, default)
        if v is _REQUIRED:
            raise ValueError(f"{generator} needs {key} = ... (settings: {spec.signature()})")
        if v is not None:
            out[key] = v
    return out


def _count(generator: str, name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{generator} {name} must be a whole number, got {value!r}")
    if not float(value).is_integer():
        raise ValueError(f"{generator} {name} must be a whole number, got {value}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{generator} {name} must be at least {minimum}, got {v}")
    return v


def _positive(generator: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{generator} {name} must be a number, got {value!r}")
    v = float(value)
    if not (v > 0 and math.isfinite(v)):
        raise ValueError(f"{generator} {name} must be a positive number, got {value}")
    return v


def _cap(generator: str, links: int, switches: int = 0) -> None:
    if links > MAX_FABRIC_LINKS:
        raise ValueError(
            f"{generator} would create {links:,} links, more than the cap of "
            f"{MAX_FABRIC_LINKS:,}; use fewer hosts or a smaller fabric"
        )
    if switches > MAX_FABRIC_LINKS:
        raise ValueError(
            f"{generator} would create {switches:,} switches, more than the cap of "
            f"{MAX_FABRIC_LINKS:,}"
        )


def _bandwidth_ratio(args: Mapping[str, Any]) -> float:
    """Host-link bandwidth over uplink bandwidth (1 when the uplink is the same type)."""
    lb, ub = args.get("link_bandwidth"), args.get("uplink_bandwidth")
    if lb is None or ub is None:
        return 1.0
    return _positive("fabric", "link_bandwidth", lb) / _positive("fabric", "uplink_bandwidth", ub)


# -- the generators ---------------------------------------------------------------------------


def plan_fabric(generator: str, num_hosts: int, args: Mapping[str, Any]) -> FabricPlan:
    """Plan the links (and switches) ``generator`` builds over ``num_hosts`` hosts.

    Parameters
    ----------
    generator : one of :data:`GENERATORS`.
    num_hosts : number of hosts given, at least 1.
    args : the settings (see :data:`GENERATORS`); ``dims`` for ``mesh``/``torus`` is a tuple.
        Fabrics also take ``link_bandwidth`` and ``uplink_bandwidth`` (B/s per lane), used to
        size oversubscribed uplinks when the uplink type differs from the host link type.

    Returns
    -------
    FabricPlan

    Raises
    ------
    ValueError
        With a message a user can act on: unknown generator or setting, a size that does not
        fit (dimensions vs hosts, k odd, not a power of two...), or more links than
        :data:`MAX_FABRIC_LINKS`. Checked before anything large is allocated.

    Examples
    --------
    >>> p = plan_fabric("torus", 6, {"dims": (3, 2)})
    >>> p.num_links          # 2 rings of 3, plus 3 single links across the size-2 dimension
    9
    >>> plan_fabric("hypercube", 6, {})
    Traceback (most recent call last):
    ...
    ValueError: hypercube needs a power-of-two number of hosts, got 6 (4 or 8 would do)
    >>> plan_fabric("fat_tree", 4, {"k": 4}).groups
    (('edge', 8), ('agg', 8), ('core', 4))
    """
    if generator not in GENERATORS:
        close = get_close_matches(generator, list(GENERATORS), 1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"unknown generator {generator!r}{hint} (known: {', '.join(sorted(GENERATORS))})"
        )
    n = _count(generator, "number of hosts", num_hosts, 1)
    resolved = _resolve_args(generator, args)
    for key in _BANDWIDTH_ARGS:
        if key in resolved:
            resolved[key] = _positive(generator, key, resolved[key])
    return _PLANNERS[generator](n, resolved)


def _pattern(generator, a, b, params) -> FabricPlan:
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    return FabricPlan(
        groups=(),
        a=a,
        b=b,
        lanes=np.ones(len(a)),
        tier=np.zeros(len(a), dtype=np.int8),
        params=params,
        role=np.zeros(len(a), dtype=np.int8),
        roles=("link",),
    )


def _plan_ring(n: int, args: dict) -> FabricPlan:
    if n == 1:
        return _pattern("ring", [], [], {})
    if n == 2:
        return _pattern("ring", [0], [1], {})
    _cap("ring", n)
    i = np.arange(n)
    return _pattern("ring", i, (i + 1) % n, {})


def _plan_line(n: int, args: dict) -> FabricPlan:
    _cap("line", n - 1)
    i = np.arange(n - 1)
    return _pattern("line", i, i + 1, {})


def _dims(generator: str, n: int, args: dict) -> tuple[int, ...]:
    raw = args["dims"]
    if not isinstance(raw, (tuple, list)):
        raw = (raw,)
    if not raw:
        raise ValueError(f"{generator} needs at least one dimension, e.g. {generator}(hosts, 4, 4)")
    dims = tuple(_count(generator, "dimension", d, 1) for d in raw)
    total = math.prod(dims)
    if total != n:
        shown = " x ".join(str(d) for d in dims)
        raise ValueError(
            f"{generator} dimensions {shown} hold {total} hosts but {n} were given; make the "
            "product of the dimensions equal the number of hosts"
        )
    return dims


def _grid(generator: str, n: int, args: dict, wrap: bool) -> FabricPlan:
    dims = _dims(generator, n, args)
    count = 0
    for d in dims:
        if wrap and d >= 3:
            count += n
        elif d >= 2:
            count += (d - 1) * (n // d)
    _cap(generator, count)
    coords = np.indices(dims).reshape(len(dims), -1)  # row-major: last dimension fastest
    strides = [math.prod(dims[i + 1 :]) for i in range(len(dims))]
    idx = np.arange(n, dtype=np.int64)
    a_parts, b_parts = [], []
    for axis, d in enumerate(dims):
        c = coords[axis]
        if d >= 2:
            inner = c < d - 1
            a_parts.append(idx[inner])
            b_parts.append(idx[inner] + strides[axis])
        if wrap and d >= 3:
            last = c == d - 1
            a_parts.append(idx[last])
            b_parts.append(idx[last] - (d - 1) * strides[axis])
    a = np.concatenate(a_parts) if a_parts else np.zeros(0, dtype=np.int64)
    b = np.concatenate(b_parts) if b_parts else np.zeros(0, dtype=np.int64)
    return _pattern(generator, a, b, {"dims": dims})


def _plan_mesh(n: int, args: dict) -> FabricPlan:
    return _grid("mesh", n, args, wrap=False)


def _plan_torus(n: int, args: dict) -> FabricPlan:
    return _grid("torus", n, args, wrap=True)


def _plan_hypercube(n: int, args: dict) -> FabricPlan:
    if n & (n - 1):
        lo = 1 << (n.bit_length() - 1)
        raise ValueError(
            f"hypercube needs a power-of-two number of hosts, got {n} ({lo} or {2 * lo} would do)"
        )
    m = n.bit_length() - 1
    _cap("hypercube", m * n // 2)
    idx = np.arange(n, dtype=np.int64)
    a_parts, b_parts = [], []
    for bit in range(m):
        low = (idx >> bit) & 1 == 0
        a_parts.append(idx[low])
        b_parts.append(idx[low] | (1 << bit))
    a = np.concatenate(a_parts) if a_parts else np.zeros(0, dtype=np.int64)
    b = np.concatenate(b_parts) if b_parts else np.zeros(0, dtype=np.int64)
    return _pattern("hypercube", a, b, {"dimension": m})


def _plan_full_mesh(n: int, args: dict) -> FabricPlan:
    _cap("full_mesh", n * (n - 1) // 2)
    a, b = np.triu_indices(n, 1)
    return _pattern("full_mesh", a, b, {})


def _fabric(groups, parts, params, roles) -> FabricPlan:
    """Assemble a switch fabric from (a, b, lanes, tier, role) blocks."""
    a = np.concatenate([p[0] for p in parts]).astype(np.int64)
    b = np.concatenate([p[1] for p in parts]).astype(np.int64)
    lanes = np.concatenate([np.broadcast_to(np.float64(p[2]), len(p[0])) for p in parts])
    tier = np.concatenate([np.full(len(p[0]), p[3], dtype=np.int8) for p in parts])
    role = np.concatenate([np.full(len(p[0]), p[4], dtype=np.int8) for p in parts])
    return FabricPlan(tuple(groups), a, b, lanes.astype(np.float64), tier, params, role, roles)


def _plan_fat_tree(n: int, args: dict) -> FabricPlan:
    k = _count("fat_tree", "k", args["k"], 2)
    if k % 2:
        raise ValueError(f"fat_tree needs an even k, got {k} (try {k - 1} or {k + 1})")
    half = k // 2
    max_hosts = k**3 // 4
    if n > max_hosts:
        bigger = k + 2
        while bigger**3 // 4 < n:
            bigger += 2
        raise ValueError(
            f"a k={k} fat_tree holds at most k^3/4 = {max_hosts} hosts, got {n}; "
            f"use k = {bigger} or more"
        )
    edges = k * half
    aggs = k * half
    cores = half * half
    _cap("fat_tree", n + k**3 // 2, edges + aggs + cores)
    H = n
    e0, a0, c0 = H, H + edges, H + edges + aggs
    host = np.arange(n, dtype=np.int64)
    host_edge = e0 + host // half
    # edge[p*k/2 + j] -- agg[p*k/2 + m] for every m, within pod p.
    e_idx, m = np.meshgrid(np.arange(edges), np.arange(half), indexing="ij")
    pod = e_idx // half
    ea_a = (e0 + e_idx).ravel()
    ea_b = (a0 + pod * half + m).ravel()
    # agg[p*k/2 + m] -- core[m*k/2 + c] for every c.
    g_idx, c = np.meshgrid(np.arange(aggs), np.arange(half), indexing="ij")
    ac_a = (a0 + g_idx).ravel()
    ac_b = (c0 + (g_idx % half) * half + c).ravel()
    params = {"k": k, "pods": k, "hosts_per_edge": half, "max_hosts": max_hosts}
    params.update({key: args[key] for key in _BANDWIDTH_ARGS if key in args})
    return _fabric(
        (("edge", edges), ("agg", aggs), ("core", cores)),
        [(host, host_edge, 1.0, 0, 0), (ea_a, ea_b, 1.0, 1, 1), (ac_a, ac_b, 1.0, 1, 2)],
        params,
        _ROLES["fat_tree"],
    )


def _plan_leaf_spine(n: int, args: dict) -> FabricPlan:
    leaves = _count("leaf_spine", "leaves", args["leaves"])
    spines = _count("leaf_spine", "spines", args["spines"])
    over = _positive("leaf_spine", "oversubscription", args["oversubscription"])
    if n % leaves:
        raise ValueError(
            f"leaf_spine spreads hosts evenly over leaves: {n} hosts do not divide over "
            f"{leaves} leaves; use a number of leaves that divides {n}"
        )
    _cap("leaf_spine", n + leaves * spines, leaves + spines)
    per_leaf = n // leaves
    if "uplinks" in args:
        lanes = _positive("leaf_spine", "uplinks", args["uplinks"])
    else:
        lanes = per_leaf * _bandwidth_ratio(args) / (over * spines)
    host = np.arange(n, dtype=np.int64)
    leaf_of = n + host // per_leaf
    la, sb = np.meshgrid(np.arange(leaves), np.arange(spines), indexing="ij")
    params: dict[str, Any] = {
        "leaves": leaves,
        "spines": spines,
        "oversubscription": over,
        "hosts_per_leaf": per_leaf,
        "uplink_lanes": lanes,
    }
    if "uplinks" in args:
        params["uplinks"] = lanes
    params.update({key: args[key] for key in _BANDWIDTH_ARGS if key in args})
    return _fabric(
        (("leaf", leaves), ("spine", spines)),
        [(host, leaf_of, 1.0, 0, 0), ((n + la).ravel(), (n + leaves + sb).ravel(), lanes, 1, 1)],
        params,
        _ROLES["leaf_spine"],
    )


def _plan_clos3(n: int, args: dict) -> FabricPlan:
    pods = _count("clos3", "pods", args["pods"])
    leaves = _count("clos3", "leaves", args["leaves"])
    spines = _count("clos3", "spines", args["spines"])
    cores = _count("clos3", "cores", args["cores"])
    o1 = _positive("clos3", "oversubscription", args["oversubscription"])
    o2 = _positive("clos3", "spine_oversubscription", args["spine_oversubscription"])
    total_leaves = pods * leaves
    if n % total_leaves:
        raise ValueError(
            f"clos3 spreads hosts evenly over its {pods} x {leaves} = {total_leaves} leaves: "
            f"{n} hosts do not divide; use a host count that is a multiple of {total_leaves}"
        )
    links = n + pods * leaves * spines + pods * spines * cores
    _cap("clos3", links, total_leaves + pods * spines + cores)
    per_leaf = n // total_leaves
    if "leaf_uplinks" in args:
        l1 = _positive("clos3", "leaf_uplinks", args["leaf_uplinks"])
    else:
        l1 = per_leaf * _bandwidth_ratio(args) / (o1 * spines)
    if "spine_uplinks" in args:
        l2 = _positive("clos3", "spine_uplinks", args["spine_uplinks"])
    else:
        l2 = leaves * l1 / (o2 * cores)
    L0, S0, C0 = n, n + total_leaves, n + total_leaves + pods * spines
    host = np.arange(n, dtype=np.int64)
    # leaf[p*L + i] -- spine[p*S + j] within each pod.
    p, i, j = np.meshgrid(np.arange(pods), np.arange(leaves), np.arange(spines), indexing="ij")
    ls_a = (L0 + p * leaves + i).ravel()
    ls_b = (S0 + p * spines + j).ravel()
    # Every spine to every core (no core planes).
    s, c = np.meshgrid(np.arange(pods * spines), np.arange(cores), indexing="ij")
    params: dict[str, Any] = {
        "pods": pods,
        "leaves": leaves,
        "spines": spines,
        "cores": cores,
        "oversubscription": o1,
        "spine_oversubscription": o2,
        "hosts_per_leaf": per_leaf,
        "leaf_uplink_lanes": l1,
        "spine_uplink_lanes": l2,
    }
    for key in ("leaf_uplinks", "spine_uplinks", *_BANDWIDTH_ARGS):
        if key in args:
            params[key] = args[key]
    return _fabric(
        (("leaf", total_leaves), ("spine", pods * spines), ("core", cores)),
        [
            (host, L0 + host // per_leaf, 1.0, 0, 0),
            (ls_a, ls_b, l1, 1, 1),
            ((S0 + s).ravel(), (C0 + c).ravel(), l2, 1, 2),
        ],
        params,
        _ROLES["clos3"],
    )


def _plan_dragonfly(n: int, args: dict) -> FabricPlan:
    g = _count("dragonfly", "groups", args["groups"])
    a = _count("dragonfly", "routers", args["routers"])
    gl = _positive("dragonfly", "global_lanes", args["global_lanes"])
    ll = _positive("dragonfly", "local_lanes", args["local_lanes"])
    need = -(-(g - 1) // a)  # global links per router, round-robin
    if "global_ports" in args:
        h = _count("dragonfly", "global_ports", args["global_ports"], 0)
        if a * h < g - 1:
            raise ValueError(
                f"dragonfly with {g} groups needs {g - 1} global links per group, but "
                f"{a} routers x {h} global ports give {a * h}; raise global_ports to {need} "
                "or use fewer groups"
            )
    else:
        h = need
    routers = g * a
    if n % routers:
        raise ValueError(
            f"dragonfly spreads hosts evenly over its {g} x {a} = {routers} routers: {n} hosts "
            f"do not divide; use a host count that is a multiple of {routers}"
        )
    links = n + g * a * (a - 1) // 2 + g * (g - 1) // 2
    _cap("dragonfly", links, routers)
    per_router = n // routers
    host = np.arange(n, dtype=np.int64)
    # Local: all-to-all routers within each group.
    ra, rb = np.triu_indices(a, 1)
    grp = np.repeat(np.arange(g), len(ra))
    loc_a = n + grp * a + np.tile(ra, g)
    loc_b = n + grp * a + np.tile(rb, g)
    # Global: one link per pair of groups i < j. Group i's partners in ascending order take its
    # routers round-robin: partner j (j > i) is i's (j-1)-th, partner i (i < j) is j's i-th.
    gi, gj = np.triu_indices(g, 1)
    glob_a = n + gi * a + (gj - 1) % a
    glob_b = n + gj * a + gi % a
    params = {
        "groups": g,
        "routers": a,
        "global_ports": h,
        "global_lanes": gl,
        "local_lanes": ll,
        "hosts_per_router": per_router,
        "max_global_per_router": need if g > 1 else 0,
    }
    params.update({key: args[key] for key in _BANDWIDTH_ARGS if key in args})
    return _fabric(
        (("router", routers),),
        [
            (host, n + host // per_router, 1.0, 0, 0),
            (loc_a, loc_b, ll, 1, 1),
            (glob_a, glob_b, gl, 1, 2),
        ],
        params,
        _ROLES["dragonfly"],
    )


_PLANNERS = {
    "ring": _plan_ring,
    "line": _plan_line,
    "mesh": _plan_mesh,
    "torus": _plan_torus,
    "hypercube": _plan_hypercube,
    "full_mesh": _plan_full_mesh,
    "fat_tree": _plan_fat_tree,
    "leaf_spine": _plan_leaf_spine,
    "clos3": _plan_clos3,
    "dragonfly": _plan_dragonfly,
}


# -- bisection of the generators --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosedForm:
    """Bisection of a generator's output over its hosts, per direction.

    ``lower`` is a proven lower bound (see ``docs/solvers.md``): for every balanced split of
    the hosts there is a flow of at least ``lower`` from one half to the other, in which no
    host sends or receives more than ``host_rate``. ``exact`` is the bisection itself when the
    proof is tight for these sizes (``None`` otherwise). Units are those of ``capacity``.
    """

    lower: float
    exact: float | None
    host_rate: float
    method: str


def _role_capacities(generator: str, params: Mapping[str, Any]) -> dict[str, float]:
    """Per-link capacity of each role in units of the host link bandwidth (lanes included)."""
    ratio = 1.0
    lb, ub = params.get("link_bandwidth"), params.get("uplink_bandwidth")
    if lb and ub:
        ratio = float(ub) / float(lb)
    if generator == "fat_tree":
        return {"host": 1.0, "edge-agg": ratio, "agg-core": ratio}
    if generator == "leaf_spine":
        return {"host": 1.0, "leaf-spine": params["uplink_lanes"] * ratio}
    if generator == "clos3":
        return {
            "host": 1.0,
            "leaf-spine": params["leaf_uplink_lanes"] * ratio,
            "spine-core": params["spine_uplink_lanes"] * ratio,
        }
    if generator == "dragonfly":
        return {
            "host": 1.0,
            "local": params["local_lanes"] * ratio,
            "global": params["global_lanes"] * ratio,
        }
    return {"link": 1.0}


def closed_form_bisection(
    generator: str,
    num_hosts: int,
    params: Mapping[str, Any],
    capacity: Mapping[str, float] | None = None,
) -> ClosedForm:
    """Bisection bandwidth (per direction) of a generator's output over its hosts.

    Parameters
    ----------
    generator, num_hosts : as given to :func:`plan_fabric`.
    params : :attr:`FabricPlan.params` (or the settings; derived values are recomputed).
    capacity : per-direction capacity of one link of each role (``FabricPlan.roles``), in B/s.
        When a role's links differ, pass the smallest: the result stays a valid lower bound.
        Default: in units of the host link bandwidth, with uplinks sized by their lanes.

    Returns
    -------
    ClosedForm

    Examples
    --------
    >>> closed_form_bisection("torus", 64, {"dims": (4, 4, 4)}).exact   # 2 N / d_max links
    32.0
    >>> closed_form_bisection("fat_tree", 16, {"k": 4}).exact            # k^3/8 host links
    8.0
    >>> cf = closed_form_bisection("ring", 8, {}, {"link": 25e9})
    >>> cf.lower, cf.exact
    (50000000000.0, 50000000000.0)
    """
    n = int(num_hosts)
    if "dims" not in params and generator in ("mesh", "torus"):
        raise ValueError(f"{generator} needs its dims to compute a bisection")
    plan_params = params
    derived = {
        "fat_tree": "max_hosts",
        "leaf_spine": "uplink_lanes",
        "clos3": "leaf_uplink_lanes",
        "dragonfly": "max_global_per_router",
    }
    if generator in derived and derived[generator] not in params:
        keep = {k: v for k, v in params.items() if k in GENERATORS[generator].args}
        plan_params = plan_fabric(generator, n, keep).params
    cap = _role_capacities(generator, plan_params)
    if capacity is not None:
        cap.update({k: float(v) for k, v in capacity.items()})
    lo, hi = n // 2, n - n // 2
    pairs = lo * hi
    if n < 2:
        return ClosedForm(0.0, 0.0, 0.0, f"{generator}: fewer than 2 hosts")

    if generator in ("ring", "line", "mesh", "torus", "hypercube", "full_mesh"):
        c = cap["link"]
        load, exact_links = _pattern_load(generator, n, plan_params)
        lam = c / load
        lower = lam * pairs
        exact = exact_links * c if exact_links is not None else None
        return ClosedForm(lower, exact, lam * hi, f"{generator}: uniform all-to-all flow")

    # Switch fabrics: hose routing. Every host may send and receive `rate`, spread evenly over
    # the top-tier switches, so a half can send rate x floor(n/2) to the other half.
    if generator == "fat_tree":
        rate = min(cap["host"], cap["edge-agg"], cap["agg-core"])
        k = plan_params["k"]
        exact = None
        if n == k**3 // 4 or cap["host"] <= min(cap["edge-agg"], cap["agg-core"]):
            exact = lo * rate
        return ClosedForm(lo * rate, exact, rate, "fat_tree: hose routing via the cores")
    if generator == "leaf_spine":
        L, S, h = plan_params["leaves"], plan_params["spines"], plan_params["hosts_per_leaf"]
        rate = min(cap["host"], cap["leaf-spine"] * S / h)
        exact = _leaf_spine_exact(n, L, h, cap["host"], S * cap["leaf-spine"])
        return ClosedForm(lo * rate, exact, rate, "leaf_spine: hose routing via the spines")
    if generator == "clos3":
        P, L, S, C = (plan_params[k] for k in ("pods", "leaves", "spines", "cores"))
        h = plan_params["hosts_per_leaf"]
        rate = min(cap["host"], cap["leaf-spine"] * S / h, cap["spine-core"] * S * C / (L * h))
        exact = lo * rate if (P % 2 == 0 and n % 2 == 0) else None
        return ClosedForm(lo * rate, exact, rate, "clos3: hose routing via the cores")
    if generator == "dragonfly":
        g, a = plan_params["groups"], plan_params["routers"]
        p = plan_params["hosts_per_router"]
        # Global links per router, round-robin: the two busiest routers of a group.
        per_router = (g - 1) // a + (np.arange(a) < (g - 1) % a)
        top_two = float(np.sort(per_router)[-2:].sum()) if a > 1 else 0.0
        loads = [(cap["host"], n - 1), (cap["global"], (a * p) ** 2)]
        if a > 1:
            loads.append((cap["local"], p * p * (1 + a * top_two)))
        lam = min(c / ld for c, ld in loads if ld > 0)
        lower = lam * pairs
        exact = None
        if g % 2 == 0 and math.isclose(lower, (g // 2) ** 2 * cap["global"], rel_tol=1e-12):
            exact = (g // 2) ** 2 * cap["global"]
        return ClosedForm(lower, exact, lam * hi, "dragonfly: uniform all-to-all flow")
    raise ValueError(f"unknown generator {generator!r}")


def _pattern_load(generator: str, n: int, params) -> tuple[float, float | None]:
    """Largest per-direction link load of uniform all-to-all traffic (one unit per ordered
    pair), and the exact bisection in links when known."""
    if generator == "full_mesh":
        return 1.0, float((n // 2) * (n - n // 2))
    if generator == "hypercube":
        return n / 2, n / 2
    if generator == "line":
        return float((n // 2) * (n - n // 2)), 1.0
    if generator == "ring":
        if n == 2:
            return 1.0, 1.0
        return (n * n - (n % 2)) / 8, 2.0
    dims = tuple(int(d) for d in params["dims"])
    wrap = generator == "torus"
    worst = 0.0
    for d in dims:
        lines = n / d
        if d == 1:
            per = 0.0
        elif wrap and d >= 3:
            per = (d * d - (d % 2)) / 8  # a ring of d, shortest way, ties split
        else:
            per = (d // 2) * (d - d // 2)  # a line of d (a torus dimension of 2 is one link)
        worst = max(worst, per * lines)
    dmax = max(dims)
    exact = None
    if dmax % 2 == 0:
        exact = 2 * n / dmax if wrap and dmax >= 3 else n / dmax
    return worst, exact


def _leaf_spine_exact(n, leaves, h, c, uplink) -> float:
    """Exact leaf-spine bisection: minimum over how many leaves sit on the first side."""
    best = math.inf
    for side in (n // 2, n - n // 2):
        for la in range(leaves + 1):
            cost = abs(h * la - side) * c + uplink * min(la, leaves - la)
            best = min(best, cost)
    return best


def natural_split(generator: str, num_hosts: int, params: Mapping[str, Any]) -> np.ndarray:
    """A cheap balanced split of the hosts along the generator's structure, as 0/1 floats.

    Half the pods, leaves or groups (hosts are attached in order), or for a mesh or torus the
    lower half of its longest dimension.

    >>> natural_split("mesh", 8, {"dims": (2, 4)}).tolist()
    [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    """
    n = int(num_hosts)
    if generator in ("mesh", "torus") and "dims" in params:
        dims = tuple(int(d) for d in params["dims"])
        axis = int(np.argmax(dims))
        coords = np.indices(dims).reshape(len(dims), -1)[axis]
        return (coords >= dims[axis] // 2).astype(np.float64)
    return (np.arange(n) >= n - n // 2).astype(np.float64)
