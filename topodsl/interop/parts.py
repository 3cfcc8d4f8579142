"""The table of known parts: what a topology format does not say, filled from published figures.

hwloc gives no NIC rates; NCCL files of cloud VMs list no NVLinks; neither says how the CPU
sockets are joined, nor, on a DGX-2, how the NVSwitch chips of the two baseboards are wired.
When an importer needs such a figure it looks it up here; every figure it takes is marked
``assumed`` in the imported topology (``meta { assumed = "..." }``) and reported in a warning.
A part that is not in the table is never guessed: the importer leaves the figure out and says so.

Bandwidths are bytes per second **per direction** (vendors usually quote both directions
added). Each entry names its source; ``verified=False`` marks figures not confirmed against a
primary source. docs/interop.md renders these tables (a test keeps the two in step).

>>> nvlink_rate(90) / 1e9
25.0
>>> nic_part(0x15B3, 0x1021).rate * 8 / 1e9   # ConnectX-7, Gb/s per port
400.0
>>> socket_link("GenuineIntel", 6, 143).name
'upi2'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "GpuPart",
    "NicPart",
    "SocketLink",
    "Baseboard",
    "GPUS",
    "NICS",
    "SOCKET_LINKS",
    "BASEBOARDS",
    "NVLINK_RATE",
    "XGMI_RATE",
    "gpu_part",
    "nic_part",
    "socket_link",
    "nvlink_rate",
    "xgmi_rate",
    "baseboard",
    "nvlink_generation",
    "PCIE_LANE_RATE",
    "pcie_lane_rate",
]

GB = 1e9
Gb = 1e9 / 8

# -- PCIe ---------------------------------------------------------------------------------------

#: Bytes per second per lane and direction after line encoding, by PCIe generation: the
#: transfer rate (GT/s) times 8b/10b (Gen1-2), 128b/130b (Gen3-5) or 242B/256B FLIT (Gen6),
#: over 8 bits. PCI-SIG base specifications; hwloc's ``pci_link_speed`` uses the same factors.
PCIE_LANE_RATE: dict[int, float] = {
    1: 2.5e9 * 8 / 10 / 8,
    2: 5e9 * 8 / 10 / 8,
    3: 8e9 * 128 / 130 / 8,
    4: 16e9 * 128 / 130 / 8,
    5: 32e9 * 128 / 130 / 8,
    6: 64e9 * 242 / 256 / 8,
}

#: Transfer rate in GT/s per generation (how NCCL and Linux write ``link_speed``).
PCIE_GTS: dict[int, float] = {1: 2.5, 2: 5.0, 3: 8.0, 4: 16.0, 5: 32.0, 6: 64.0}


def pcie_lane_rate(gen: int) -> float:
    """Bytes per second per lane and direction of PCIe generation ``gen``.

    >>> round(pcie_lane_rate(5) * 16 / 1e9, 3)   # Gen5 x16
    63.015
    """
    return PCIE_LANE_RATE[gen]


# -- GPUs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GpuPart:
    """A GPU model: how a file names it, its scale-up links and its memory."""

    model: str
    vendor: int
    device: int | None  # PCI device id, None where not confirmed
    names: tuple[str, ...]  # substrings of hwloc's GPUModel that identify it (lower case)
    sm: int | None  # CUDA compute capability x10 (NVIDIA)
    gcn: str | None  # gfx architecture (AMD)
    links: int  # NVLink or xGMI links per GPU
    memory: float  # bytes of HBM
    memory_bandwidth: float  # B/s
    pcie_gen: int
    sxm: bool  # an SXM/OAM module on a baseboard (not a PCIe card)
    source: str
    verified: bool = True


GPUS: tuple[GpuPart, ...] = (
    GpuPart(
        "NVIDIA Tesla V100-SXM3-32GB",
        0x10DE,
        0x1DB8,
        ("v100-sxm3",),
        70,
        None,
        6,
        32 * 2**30,
        981e9,
        3,
        True,
        "NVIDIA Tesla V100 datasheet; NVIDIA DGX-2 datasheet (V100 SXM3 32 GB, 6 NVLink2)",
        verified=False,
    ),
    GpuPart(
        "NVIDIA Tesla V100-SXM2",
        0x10DE,
        0x1DB1,
        ("v100-sxm2",),
        70,
        None,
        6,
        16 * 2**30,
        900e9,
        3,
        True,
        "NVIDIA Tesla V100 datasheet (900 GB/s HBM2, 6 NVLink2)",
    ),
    GpuPart(
        "NVIDIA A100-SXM4-40GB",
        0x10DE,
        0x20B0,
        ("a100-sxm4-40gb",),
        80,
        None,
        12,
        40 * 2**30,
        1555e9,
        4,
        True,
        "NVIDIA A100 datasheet and Ampere whitepaper (1,555 GB/s, 12 NVLink3 links)",
    ),
    GpuPart(
        "NVIDIA A100-SXM4-80GB",
        0x10DE,
        0x20B2,
        ("a100-sxm4-80gb", "a100 80gb"),
        80,
        None,
        12,
        80 * 2**30,
        2039e9,
        4,
        True,
        "NVIDIA A100 datasheet (2,039 GB/s, 12 NVLink3 links)",
    ),
    GpuPart(
        "NVIDIA H100 80GB HBM3",
        0x10DE,
        0x2330,
        ("h100 80gb hbm3", "h100 sxm"),
        90,
        None,
        18,
        80e9,
        3.35e12,
        5,
        True,
        "NVIDIA H100 datasheet (SXM5: 80 GB HBM3, 3.35 TB/s, 18 NVLink4 links, PCIe Gen5 x16)",
    ),
    GpuPart(
        "NVIDIA H100 PCIe",
        0x10DE,
        0x2331,
        ("h100 pcie",),
        90,
        None,
        0,
        80e9,
        2.0e12,
        5,
        False,
        "NVIDIA H100 datasheet (PCIe: 80 GB HBM2e, 2.0 TB/s)",
    ),
    GpuPart(
        "NVIDIA H200",
        0x10DE,
        0x2335,
        ("h200",),
        90,
        None,
        18,
        141e9,
        4.8e12,
        5,
        True,
        "NVIDIA H200 datasheet (141 GB HBM3e, 4.8 TB/s, NVLink4)",
        verified=False,
    ),
    GpuPart(
        "AMD Instinct MI300X",
        0x1002,
        0x74A1,
        ("mi300x",),
        None,
        "gfx942",
        7,
        192e9,
        5.3e12,
        5,
        True,
        "AMD Instinct MI300X data sheet (192 GB HBM3, 5.3 TB/s, 7 Infinity Fabric links)",
    ),
)


def gpu_part(
    vendor: int | None = None, device: int | None = None, name: str | None = None
) -> GpuPart | None:
    """The table entry for a GPU known by PCI ids or by hwloc's model text, if any.

    >>> gpu_part(name="Tesla V100-SXM3-32GB-H").sm
    70
    >>> gpu_part(0x10DE, 0xFFFF) is None
    True
    """
    for part in GPUS:
        if device is not None and part.device == device and part.vendor == vendor:
            return part
    if name:
        low = name.lower()
        for part in GPUS:
            if any(n in low for n in part.names):
                return part
    return None


#: NVLink bandwidth per link and direction by CUDA compute capability (x10): NVLink 1 (P100,
#: 20 GB/s), 2 (V100, 25 GB/s), 3 (A100, 25 GB/s; A40/A10-class GA10x bridges 14.0625 GB/s),
#: 4 (H100, 25 GB/s), 5 (B200, 50 GB/s). NVIDIA architecture whitepapers (Pascal, Volta,
#: Ampere, Hopper, Blackwell); NCCL's own figures (``SM90_NVLINK_BW``...) are lower effective
#: rates and are not used.
NVLINK_RATE: dict[int, float] = {
    60: 20 * GB,
    70: 25 * GB,
    80: 25 * GB,
    86: 14.0625 * GB,
    90: 25 * GB,
    100: 50 * GB,
}


def nvlink_rate(sm: int) -> float | None:
    """NVLink bandwidth per link and direction for compute capability ``sm`` (x10), if known."""
    if sm in NVLINK_RATE:
        return NVLINK_RATE[sm]
    if sm >= 100:
        return NVLINK_RATE[100]
    older = [s for s in NVLINK_RATE if s <= sm and s != 86]
    return NVLINK_RATE[max(older)] if older else None


def nvlink_generation(sm: int) -> int | None:
    """NVLink generation for compute capability ``sm`` (x10): 60 -> 1 ... 100 -> 5."""
    for lo, gen in ((100, 5), (90, 4), (80, 3), (70, 2), (60, 1)):
        if sm >= lo:
            return gen
    return None


#: xGMI (Infinity Fabric) bandwidth per link and direction by gfx architecture: MI300X/MI300A
#: (gfx942) x16 links at 32 Gb/s per lane = 64 GB/s each way (AMD MI300X data sheet: 128 GB/s
#: per link both directions); MI250X (gfx90a) 50 GB/s each way (AMD MI250X data sheet:
#: 100 GB/s per link both directions).
XGMI_RATE: dict[str, float] = {"gfx942": 64 * GB, "gfx90a": 50 * GB}


def xgmi_rate(gcn: str) -> float | None:
    """xGMI bandwidth per link and direction for AMD architecture ``gcn`` (``gfx942``...)."""
    for arch, rate in XGMI_RATE.items():
        if gcn.lower().startswith(arch):
            return rate
    return None


# -- NICs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NicPart:
    """A NIC model and its top rate (B/s, per direction, all ports of the card together)."""

    model: str
    vendor: int
    device: int
    rate: float
    source: str
    verified: bool = True


NICS: tuple[NicPart, ...] = (
    NicPart(
        "NVIDIA ConnectX-5", 0x15B3, 0x1017, 100 * Gb, "NVIDIA ConnectX-5 datasheet (EDR / 100GbE)"
    ),
    NicPart(
        "NVIDIA ConnectX-5 Ex",
        0x15B3,
        0x1019,
        100 * Gb,
        "NVIDIA ConnectX-5 Ex datasheet (EDR / 100GbE)",
    ),
    NicPart(
        "NVIDIA ConnectX-6",
        0x15B3,
        0x101B,
        200 * Gb,
        "NVIDIA ConnectX-6 VPI datasheet (HDR / 200GbE)",
    ),
    NicPart(
        "NVIDIA ConnectX-7",
        0x15B3,
        0x1021,
        400 * Gb,
        "NVIDIA ConnectX-7 datasheet (NDR / 400GbE, single port)",
    ),
)


def nic_part(vendor: int | None, device: int | None) -> NicPart | None:
    """The table entry for a NIC known by its PCI ids, if any."""
    for part in NICS:
        if part.vendor == vendor and part.device == device:
            return part
    return None


# -- CPU sockets --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SocketLink:
    """How two sockets of a CPU family are joined: link type, rate per link and direction."""

    cpu: str
    vendor: str  # CPUID vendor string
    family: int
    models: tuple[int, ...]  # CPUID model numbers
    name: str  # link type name in the imported topology
    link_model: str
    rate: float
    links: int
    source: str
    verified: bool = True


SOCKET_LINKS: tuple[SocketLink, ...] = (
    SocketLink(
        "Intel Xeon Scalable (Skylake-SP / Cascade Lake-SP)",
        "GenuineIntel",
        6,
        (85,),
        "upi1",
        "Intel UPI, 10.4 GT/s",
        20.8 * GB,
        3,
        "Intel Xeon Scalable platform brief: up to 3 UPI links at 10.4 GT/s, 20.8 GB/s each way",
        verified=False,
    ),
    SocketLink(
        "Intel Xeon (Sapphire Rapids)",
        "GenuineIntel",
        6,
        (143,),
        "upi2",
        "Intel UPI 2.0, 16 GT/s",
        32 * GB,
        4,
        "Intel 4th Gen Xeon Scalable: 4 UPI 2.0 links at 16 GT/s (~32 GB/s each way, scaling "
        "Intel's 20.8 GB/s at 10.4 GT/s); as in topologies/parts/links.topo",
    ),
    SocketLink(
        "AMD EPYC 9004 (Genoa)",
        "AuthenticAMD",
        25,
        tuple(range(16, 32)),
        "xgmi_socket",
        "AMD EPYC socket-to-socket xGMI x16, 32 Gb/s per lane",
        64 * GB,
        4,
        "AMD EPYC 9004 platform: 4 xGMI links x16 at 32 Gb/s per lane (64 GB/s each way); "
        "as in topologies/mi300x.topo",
        verified=False,
    ),
)


def socket_link(vendor: str | None, family: int | None, model: int | None) -> SocketLink | None:
    """The socket interconnect of a CPU known by CPUID vendor, family and model, if any."""
    for entry in SOCKET_LINKS:
        if entry.vendor == vendor and entry.family == family and model in entry.models:
            return entry
    return None


# -- baseboards: NVLink wiring a file leaves out ------------------------------------------------


@dataclass(frozen=True, slots=True)
class Baseboard:
    """An NVLink baseboard: GPUs of one model wired to NVSwitch chips.

    ``split`` is the number of links from every GPU to each NVSwitch chip; ``trunk`` the links
    between the two baseboards' paired chips (0 for one baseboard).
    """

    name: str
    gpu_sm: int
    gpus: int
    switches: int
    split: tuple[int, ...]
    trunk: int
    source: str
    verified: bool = True


BASEBOARDS: tuple[Baseboard, ...] = (
    Baseboard(
        "NVIDIA HGX H100/H200 8-GPU",
        90,
        8,
        4,
        (5, 4, 4, 5),
        0,
        "NVIDIA DGX H100 User Guide and NVSwitch (Hot Chips 34): 4 NVSwitch chips, each GPU's "
        "18 NVLink4 links split 5/4/4/5",
    ),
    Baseboard(
        "NVIDIA HGX A100 8-GPU",
        80,
        8,
        6,
        (2, 2, 2, 2, 2, 2),
        0,
        "NVIDIA DGX A100 User Guide / A100 whitepaper: 6 NVSwitch chips, 2 of each GPU's 12 "
        "NVLink3 links to each",
    ),
    Baseboard(
        "NVIDIA HGX-2 / DGX-2 (two baseboards)",
        70,
        16,
        12,
        (1, 1, 1, 1, 1, 1),
        8,
        "NVIDIA NVSwitch whitepaper and Hot Chips 30 (2018): per baseboard 8 V100 and 6 "
        "NVSwitch chips, one link from each GPU to each chip; each chip has 8 links to its "
        "peer on the other baseboard (48 links, 2.4 TB/s both directions)",
    ),
)


def baseboard(sm: int | None, gpus: int) -> Baseboard | None:
    """The baseboard of ``gpus`` SXM GPUs of compute capability ``sm``, if it is known."""
    for board in BASEBOARDS:
        if board.gpu_sm == sm and board.gpus == gpus:
            return board
    return None
