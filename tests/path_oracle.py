"""The brute-force path oracle of the forwarding model: every simple path that obeys the
documented rules (docs/solvers.md, "Forwarding model"), in one linear program with a
constraint per link direction, device and endpoint. Written from the docs, not from the
solver's code; shared by the forwarding and data-path tests."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
from scipy.optimize import linprog

from topodsl.topology import Topology


def _oracle_rules(t: Topology, forwarding: str, strict: bool = False):
    """Per row: its sealed package (or None), and per CXL switch the host-side neighbours;
    from the documented rules, without the solver's code. ``strict`` ignores ``relay``."""
    ids = t.nodes.ids
    kind = [t.kind_of(r) for r in range(t.num_nodes)]
    role = [t.role_of(r) for r in range(t.num_nodes)]
    relay = [None if strict else t.nodes.extra.get(r, {}).get("relay") for r in range(t.num_nodes)]
    parent = t.nodes.parent.tolist()
    sealed: dict[int, int] = {}
    lone: set[int] = set()
    sided: set[int] = set()
    if forwarding == "ideal":
        return sealed, lone, sided, {}
    for r in range(t.num_nodes):
        chain_ = [r]
        while parent[chain_[-1]] >= 0:
            chain_.append(parent[chain_[-1]])
        compute = [a for a in chain_ if role[a] == "compute"]
        if compute:
            pkg = compute[-1]
            forwards = relay[pkg] if relay[pkg] is not None else kind[pkg] == "cpu"
            if not forwards and role[r] not in ("storage",):
                sealed[r] = pkg
        elif role[r] == "transit":
            if relay[r] is False:
                lone.add(r)
            elif kind[r] == "cxl_switch" and relay[r] is not True:
                sided.add(r)
    L = t.links
    nbrs: dict[int, set[int]] = {}
    for a, b in zip(L.src.tolist(), L.dst.tolist(), strict=True):
        nbrs.setdefault(a, set()).add(b)
        nbrs.setdefault(b, set()).add(a)
    for r in range(t.num_nodes):
        if role[r] == "memory" and r not in sealed:
            owners = {sealed.get(x) for x in nbrs.get(r, ())}
            if len(owners) == 1 and None not in owners:
                sealed[r] = owners.pop()
    g = nx.Graph()
    hop = {"cpu", "switch", "pcie_switch", "cxl_switch", "nvswitch", "nic"}
    g.add_nodes_from(r for r in range(t.num_nodes) if kind[r] in hop)
    g.add_edges_from((a, b) for a, b in zip(L.src.tolist(), L.dst.tolist(), strict=True)
                     if kind[a] in hop and kind[b] in hop)  # fmt: skip
    cpus = [r for r in range(t.num_nodes) if kind[r] == "cpu"]
    dist = {r: math.inf for r in range(t.num_nodes)}
    for c in cpus:
        for r, d in nx.single_source_shortest_path_length(g, c).items():
            dist[r] = min(dist[r], d)
    switches = {"switch", "pcie_switch", "cxl_switch", "nvswitch"}
    host = {s: {x for x in nbrs.get(s, ())
                if kind[x] == "cpu" or (kind[x] in switches and dist[x] < dist[s])}
            for s in sided}  # fmt: skip
    del ids
    return sealed, lone, sided, host


def _oracle_domains(t: Topology, forwarding: str) -> dict[int, int]:
    """Per row of an accelerator (its package, chiplets, memory) or fabric switch: its fabric
    domain, as docs/solvers.md defines it (a connected group of accelerators and NVSwitches
    over links between them), with the relay attributes as declared. Negative keys name the
    switches' rows as ``-1 - row`` so that members and switches can be told apart."""
    if forwarding == "ideal":
        return {}
    sealed, lone, _, _ = _oracle_rules(t, forwarding)
    kind = [t.kind_of(r) for r in range(t.num_nodes)]
    parent = t.nodes.parent.tolist()

    def in_compute(r: int) -> bool:
        while r >= 0:
            if t.role_of(r) == "compute":
                return True
            r = parent[r]
        return False

    acc = {r: p for r, p in sealed.items() if kind[p] != "cpu"}
    switches = {r for r in range(t.num_nodes)
                if kind[r] == "nvswitch" and r not in lone and not in_compute(r)}  # fmt: skip
    g = nx.Graph()
    g.add_nodes_from(("p", p) for p in set(acc.values()))
    g.add_nodes_from(("s", r) for r in switches)

    def vertex(r: int):
        return ("p", acc[r]) if r in acc else ("s", r) if r in switches else None

    for a, b in zip(t.links.src.tolist(), t.links.dst.tolist(), strict=True):
        va, vb = vertex(a), vertex(b)
        if va is not None and vb is not None and va != vb:
            g.add_edge(va, vb)
    # Two packages are joined by the fabric when linked directly or both linked to one
    # connected group of switches (packages do not relay); a group where some pair is not
    # joined is no domain, and its packages are domains of their own.
    sw = g.subgraph(v for v in g if v[0] == "s")
    group = {v: i for i, c in enumerate(nx.connected_components(sw)) for v in c}

    def joined(x, y) -> bool:
        near = {group[v] for v in g[x] if v[0] == "s"} & {group[v] for v in g[y] if v[0] == "s"}
        return g.has_edge(x, y) or bool(near)

    label = {}
    count = 0
    for comp in nx.connected_components(g):
        packages = sorted(v for v in comp if v[0] == "p")
        if not packages:
            continue
        if all(joined(x, y) for i, x in enumerate(packages) for y in packages[i + 1 :]):
            for v in comp:
                label[v] = count
            count += 1
        else:
            for v in packages:
                label[v] = count
                count += 1
    out = {r: label[("p", p)] for r, p in acc.items()}
    out.update({-1 - r: label[("s", r)] for r in switches if ("s", r) in label})
    return out


def _oracle_cxl(t: Topology, forwarding: str, strict: bool = False) -> list[tuple[set, set]]:
    """Per shared CXL domain (a connected group of CXL switches and memory that two or more
    CPUs bound by the rule link to): its rows and those CPUs (every CPU but one that declares
    relay = true, unless ``strict``)."""
    if forwarding == "ideal":
        return []
    kind = [t.kind_of(r) for r in range(t.num_nodes)]
    relay = [None if strict else t.nodes.extra.get(r, {}).get("relay") for r in range(t.num_nodes)]
    L = list(zip(t.links.src.tolist(), t.links.dst.tolist(), strict=True))
    cxl = {r for r in range(t.num_nodes) if kind[r] in ("cxl_switch", "cxl_memory")}
    g = nx.Graph()
    g.add_nodes_from(cxl)
    g.add_edges_from((a, b) for a, b in L if a in cxl and b in cxl)
    out = []
    for rows in nx.connected_components(g):
        cpus = {c for a, b in L for c, x in ((a, b), (b, a))
                if x in rows and kind[c] == "cpu" and relay[c] is not True}  # fmt: skip
        if len(cpus) >= 2:
            out.append((set(rows), cpus))
    return out


def _allowed(t, path, sealed, lone, sided, host, domains=None, gates=None) -> bool:
    """Whether a path (list of rows) obeys the rules."""
    roles = [t.role_of(r) for r in path]
    for k in range(1, len(path) - 1):
        v = path[k]
        if roles[k] in ("memory", "storage") or v in lone:
            return False
        if v in sided and (path[k - 1] in host[v]) == (path[k + 1] in host[v]):
            return False
    for pkg in set(sealed.values()):
        inside = [sealed.get(r) == pkg for r in path]
        entered = False
        for a, b in itertools.pairwise(inside):
            if not a and b:
                entered = True
            if a and not b and entered:
                return False
    for rows, cpus in gates or ():
        # A path that crosses between the CXL domain and one of its CPUs touches no other.
        hops = {a if a in cpus else b for a, b in itertools.pairwise(path)
                if (a in cpus and b in rows) or (b in cpus and a in rows)}  # fmt: skip
        if hops and len(cpus & set(path)) > 1:
            return False
    if domains:
        d = domains.get(path[0])
        # Between two members of one fabric domain: its rows only (members, switches).
        inside = d is not None and domains.get(path[-1]) == d
        if inside and any(domains.get(r, domains.get(-1 - r)) != d for r in path):
            return False
    return True


def brute_force(
    t: Topology,
    sources,
    sinks,
    forwarding: str = "hardware",
    strict: bool = False,
    domains_of: str | None = None,
) -> float:
    """The max flow over every simple path that obeys the forwarding rules: a linear program
    with one variable per path and one constraint per link direction, device and endpoint.
    The fabric domains are those of the model ``domains_of`` (``forwarding`` by default) with
    its relay attributes, also when ``strict`` ignores them for the rest: relaying is measured
    against the domains of the figure it is measured for (none for the ideal ceiling)."""
    sealed, lone, sided, host = _oracle_rules(t, forwarding, strict)
    domains = _oracle_domains(t, domains_of or forwarding)
    gates = _oracle_cxl(t, forwarding, strict)
    L = t.links
    arcs: dict[int, list[tuple[int, int]]] = {}
    for e in range(t.num_links):
        a, b = int(L.src[e]), int(L.dst[e])
        if a == b:
            continue
        arcs.setdefault(a, []).append((b, 2 * e))
        if not L.simplex[e]:
            arcs.setdefault(b, []).append((a, 2 * e + 1))
    paths: list[tuple[list[int], list[int]]] = []
    sinks_set = set(sinks)

    def visit(w: int, v: int | None):
        # A CXL switch is passed at most once from each side: a device's data may go up to a
        # host and back down through it (a copy by the host). Everything else at most once.
        return (w, v is None or v in host[w]) if w in sided else w

    def walk(path: list[int], used: list[int], seen: set) -> None:
        v = path[-1]
        if (
            v in sinks_set
            and len(path) > 1
            and _allowed(t, path, sealed, lone, sided, host, domains, gates)
        ):
            paths.append((list(path), list(used)))
        for w, key in arcs.get(v, ()):
            here = visit(w, v)
            if here in seen or (w in sided and w == path[0]):
                continue
            path.append(w)
            used.append(key)
            seen.add(here)
            walk(path, used, seen)
            seen.discard(here)
            path.pop()
            used.pop()

    for s in sources:
        walk([s], [], {visit(s, None)})
    if not paths:
        return 0.0
    n = t.nodes
    rows, caps = {}, []

    def row(key, cap):
        if key not in rows:
            rows[key] = len(caps)
            caps.append(cap)
        return rows[key]

    A = []
    for path, used in paths:
        entries = [row(("link", k), float(L.bandwidth[k // 2])) for k in used]
        for v in path[1:-1]:
            if math.isfinite(n.bandwidth[v]):
                entries.append(row(("dev", v), float(n.bandwidth[v])))
        s, d = path[0], path[-1]
        entries.append(row(("src", s), float(min(n.bandwidth[s], n.read_bandwidth[s]))))
        entries.append(row(("snk", d), float(min(n.bandwidth[d], n.write_bandwidth[d]))))
        A.append(entries)
    m = np.zeros((len(caps), len(paths)))
    for j, entries in enumerate(A):
        for i in entries:
            m[i, j] += 1.0
    caps_a = np.array(caps)
    finite = np.isfinite(caps_a)
    scale = max(float(caps_a[finite].max()) if finite.any() else 1.0, 1.0)
    res = linprog(-np.ones(len(paths)), A_ub=m[finite], b_ub=caps_a[finite] / scale,
                  bounds=(0, None), method="highs")  # fmt: skip
    assert res.status == 0, res.message
    return float(-res.fun * scale)
