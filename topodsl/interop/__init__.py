"""Real machines in, real tools out: hwloc and NCCL/RCCL import; NCCL, InfraGraph and ASTRA-sim
export; a design checked against the machine as built.

Import goes through one intermediate, :class:`~.machine.Machine`: :mod:`.hwloc` and
:mod:`.nccl` read their XML into it, :mod:`.machine` fills what the format does not say from
the table of known parts (:mod:`.parts`, each figure marked ``assumed``), and :mod:`.topo_text`
writes it as readable ``.topo`` text, which is elaborated like any file. So ``topodsl import``
writes exactly what every command analyses when it is given the ``.xml`` file.

>>> from pathlib import Path
>>> xml = '''<system version="1">
...   <cpu numaid="0" arch="x86_64" vendor="GenuineIntel" familyid="6" modelid="143">
...     <pci busid="0000:18:00.0" class="0x030200" vendor="0x10de" device="0x2331"
...          link_speed="32.0 GT/s PCIe" link_width="16"><gpu dev="0" sm="90" rank="0"/></pci>
...   </cpu>
... </system>'''
>>> t = loads_xml(xml, "one.xml")
>>> t.nodes.ids
['server', 'server.cpu', 'server.gpu']
>>> round(float(t.links.bandwidth[0]) / 1e9, 3)    # Gen5 x16, GB/s per direction
63.015
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import Diagnostic, ElaborationError
from ..topology import Topology
from .machine import Machine
from .xmltree import parse_xml, xml_error

__all__ = [
    "detect_format",
    "read_machine",
    "machine_text",
    "loads_xml",
    "load_xml",
    "MAX_XML_BYTES",
]

#: Files larger than this are refused before they are parsed (an hwloc export of a large
#: server is a few MB).
MAX_XML_BYTES = 64 * 2**20


def detect_format(text: str, file: str = "<xml>") -> str:
    """``"hwloc"`` or ``"nccl"``, told apart by the root element (``<topology>`` or
    ``<system>``); an :class:`ElaborationError` for anything else."""
    return _detect(parse_xml(text, file), text, file)


def _detect(root, text: str, file: str) -> str:
    if root.tag == "topology":
        return "hwloc"
    if root.tag == "system":
        return "nccl"
    raise xml_error(
        file,
        text,
        root.line,
        root.col,
        f"<{root.tag}> is neither an hwloc <topology> nor an NCCL/RCCL <system>",
        "topodsl reads hwloc XML (lstopo --of xml) and NCCL topology files (NCCL_TOPO_DUMP_FILE)",
    )


def read_machine(text: str, file: str = "<xml>") -> Machine:
    """Read hwloc or NCCL/RCCL XML (told apart by content) into a :class:`Machine`."""
    if len(text) > MAX_XML_BYTES:
        raise ElaborationError(
            [Diagnostic(None, "error", f"{file} is larger than {MAX_XML_BYTES // 2**20} MiB")]
        )
    root = parse_xml(text, file)
    fmt = _detect(root, text, file)
    if fmt == "hwloc":
        from .hwloc import read_hwloc

        return read_hwloc(text, file, root)
    from .nccl import read_nccl

    return read_nccl(text, file, root)


def machine_text(machine: Machine) -> str:
    """The machine as ``.topo`` source (what ``topodsl import -o OUT.topo`` writes)."""
    from .. import __version__
    from .topo_text import write_topo

    return write_topo(machine, __version__)


def loads_xml(text: str, file: str = "<xml>") -> Topology:
    """Import hwloc or NCCL/RCCL XML ``text`` as a :class:`Topology`.

    The importer's warnings (what was assumed, what is missing) come first in
    ``Topology.warnings``; ``Topology.source`` is ``file``.
    """
    from ..api import loads

    machine = read_machine(text, file)
    source = machine_text(machine)
    topo = loads(source, file=f"{file} (imported)")
    return dataclasses.replace(
        topo, source=file, warnings=tuple(machine.warnings) + tuple(topo.warnings)
    )


def load_xml(path: str | Path) -> Topology:
    """Read an ``.xml`` file (hwloc or NCCL/RCCL) as a :class:`Topology`."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_XML_BYTES:
            raise ElaborationError(
                [Diagnostic(None, "error", f"{path} is larger than {MAX_XML_BYTES // 2**20} MiB")]
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ElaborationError([Diagnostic(None, "error", f"no such file: {path}")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ElaborationError([Diagnostic(None, "error", f"cannot read {path}: {e}")]) from None
    return loads_xml(text, str(path))
