"""Generate the benchmark clusters as topodsl source text.

One generator serves every benchmark (elaboration, bisection, reach, flow, rendering), so
they all measure the same designs: DGX-H100-like 8-GPU servers (NVSwitch, NICs, CPUs with DRAM,
PCIe switches), grouped 32 to a scalable unit with 8 rail leaves, all leaves on a spine layer,
and storage nodes with SSDs on the spines.

    python -m benchmarks.clusters 1024 > c1k.topo
"""

from __future__ import annotations

import sys

SERVERS_PER_SU = 32
GPUS_PER_SERVER = 8

TEMPLATE = """\
# Benchmark cluster: {gpus} GPUs in {sus} scalable units of {per_su} DGX-like servers.
const SUS = {sus}
const SPINES = {spines}
const STORES = {stores}

link nvlink4   {{ bandwidth = 25 GB/s,  latency = 100 ns }}
link hbm3_if   {{ bandwidth = 670 GB/s, latency = 0 ns }}
link pcie5_x16 {{ bandwidth = 63 GB/s,  latency = 500 ns }}
link pcie4_x4  {{ bandwidth = 7.5 GB/s, latency = 500 ns }}
link ddr5      {{ bandwidth = 307 GB/s, latency = 0 ns }}
link upi       {{ bandwidth = 96 GB/s,  latency = 150 ns }}
link eth400    {{ bandwidth = 400 Gb/s, latency = 600 ns }}

def gpu H100 {{
    bandwidth = 3.35 TB/s
    hbm stack[5] {{ capacity = 16 GB, bandwidth = 670 GB/s, latency = 100 ns }}
    connect self -- stack[*] via hbm3_if
}}

def node DGX {{
    H100 gpu[8]
    nvswitch nvs[4] {{ ports = 64 }}
    pcie_switch pex[4]
    nic nic[8] {{ bandwidth = 400 Gb/s }}
    cpu cpu[2]
    dram mem[2] {{ capacity = 1 TB, bandwidth = 307 GB/s, latency = 100 ns }}
    connect gpu[*] -- nvs[*] via nvlink4 x4
    connect gpu[i] -- pex[i / 2] via pcie5_x16
    connect nic[i] -- pex[i / 2] via pcie5_x16
    connect pex[i] -- cpu[i / 2] via pcie5_x16
    connect cpu[i] -- mem[i] via ddr5
    connect cpu[0] -- cpu[1] via upi
}}

def storage_node Store {{
    ssd ssd[8] {{ capacity = 3.84 TB, read_bandwidth = 7 GB/s, write_bandwidth = 4 GB/s }}
    cpu cpu
    nic nic[2] {{ bandwidth = 400 Gb/s }}
    connect ssd[*] -- cpu via pcie4_x4
    connect cpu -- nic[*] via pcie5_x16
}}

def pod SU {{
    DGX node[{per_su}]
    switch leaf[8] {{ ports = 64 }}
    connect node[*].nic[r] -- leaf[r] via eth400
}}

cluster c {{
    SU su[SUS]
    switch spine[SPINES]
    Store st[STORES]
    connect su[*].leaf[*] -- spine[*] via eth400 x(32 / SPINES)
    connect st[i].nic[j] -- spine[(2 * i + j) % SPINES] via eth400
{assertions}}}
"""

#: The design assertions of the shipped examples (topologies/cluster_256.topo), for this
#: cluster: one GPU count, non-blocking leaves, the rail bisection (half the GPUs at 400 Gb/s
#: each, per direction), every SSD read at full speed into the servers' NICs.
ASSERTIONS = """\
    assert gpus:         count(kind:gpu) == SUS * {per_su} * 8
    assert non_blocking: oversubscription(su[*].leaf[*]) <= 1
    assert fabric:       bisection(su[*].node[*].gpu[*]) >= SUS * {per_su} * 8 / 2 * 400 Gb/s
    assert storage:      flow(st[*].ssd[*] -> su[*].node[*].nic[*]) >= STORES * 8 * 7 GB/s
"""


def cluster_source(gpus: int, assertions: bool = False) -> str:
    """Source text of a cluster with ``gpus`` GPUs (a multiple of 256); with ``assertions``,
    the cluster states the figures ``topodsl check`` verifies (:data:`ASSERTIONS`).

    >>> "const SUS = 4" in cluster_source(1024)
    True
    >>> "assert fabric" in cluster_source(1024, assertions=True)
    True
    """
    per_su = SERVERS_PER_SU * GPUS_PER_SERVER
    if gpus % per_su:
        raise ValueError(f"gpus must be a multiple of {per_su}")
    sus = gpus // per_su
    checks = ASSERTIONS.format(per_su=SERVERS_PER_SU) if assertions else ""
    return TEMPLATE.format(
        gpus=gpus, sus=sus, per_su=SERVERS_PER_SU, spines=32, stores=max(2, sus), assertions=checks
    )


if __name__ == "__main__":
    sys.stdout.write(cluster_source(int(sys.argv[1]) if len(sys.argv) > 1 else 1024))
