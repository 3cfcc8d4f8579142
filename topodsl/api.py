"""The public entry points: ``load`` a file, ``loads`` a string.

>>> t = loads('cluster c { gpu g[2] }')
>>> t.nodes.ids
['c', 'c.g0', 'c.g1']
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .errors import Diagnostic, ElaborationError, Span
from .limits import MAX_JSON_BYTES, MAX_NODES, MAX_SOURCE_BYTES, MAX_STEPS
from .topology import Topology

__all__ = ["load", "loads", "read_source", "UnreadableSource", "DEFAULT_MAX_NODES"]

#: The documented cap on the components one file may expand to (links: twice as many).
DEFAULT_MAX_NODES = MAX_NODES


def load(
    path: str | Path,
    *,
    allow_import_outside: bool = False,
    max_nodes: int = DEFAULT_MAX_NODES,
    overrides: Iterable = (),
    max_steps: int = MAX_STEPS,
    max_bytes: int | None = None,
) -> Topology:
    """Read a ``.topo`` file (or a node-link ``.json`` file) and return its :class:`Topology`.

    The file must be a regular file; a symbolic link must lead inside the directory the file
    is named in (its *root*, which imports may not leave either). See ``docs/security.md``.

    Parameters
    ----------
    path : the file. A ``.json`` suffix reads NetworkX node-link JSON (see :mod:`topodsl.io`);
        ``.xml`` reads hwloc or NCCL/RCCL topology XML (see :mod:`topodsl.interop`).
    allow_import_outside : allow imports, and a symbolic link named as ``path``, that lead
        outside the root.
    max_nodes : cap on the number of components (links: twice as many).
    max_steps : cap on the statements ``for`` loops may run.
    max_bytes : cap on the bytes read (default 256 KiB of ``.topo`` source with its imports,
        256 MiB of JSON or XML).
    overrides : ``"NAME=VALUE"`` texts setting top-level constants of a ``.topo`` file, as
        ``-D`` does (see :mod:`topodsl.params`); refused for JSON and XML.

    Raises
    ------
    TopoError
        Every problem found in the file, each at ``file:line:col``.
    """
    path = Path(path)
    is_json = path.suffix.lower() == ".json"
    is_xml = path.suffix.lower() == ".xml"
    if max_bytes is not None:
        limit = max_bytes
    else:  # machine-written formats decode at C speed: a larger cap
        limit = MAX_JSON_BYTES if is_json or is_xml else MAX_SOURCE_BYTES
    root = Path(os.path.realpath(path.absolute().parent))
    try:
        text = read_source(path, str(path), None if allow_import_outside else root, limit)
    except UnreadableSource as e:
        raise ElaborationError([e.diagnostic]) from None
    overrides = tuple(overrides)
    if overrides and (is_json or is_xml):
        raise ElaborationError(
            [Diagnostic(None, "error", f"-D sets constants of a .topo file; {path} has none",
                        "a JSON or XML topology is already elaborated: give the .topo file")]
        )  # fmt: skip
    if is_json:
        from .io import loads_json

        return loads_json(text, str(path), max_nodes=max_nodes)
    if is_xml:  # hwloc or NCCL/RCCL, told apart by content
        from .interop import loads_xml

        return loads_xml(text, str(path))
    return loads(
        text,
        file=str(path),
        root=root,
        allow_import_outside=allow_import_outside,
        max_nodes=max_nodes,
        overrides=overrides,
        max_steps=max_steps,
        max_bytes=limit,
    )


def loads(
    text: str,
    *,
    file: str = "<string>",
    root: str | Path | None = None,
    allow_import_outside: bool = False,
    max_nodes: int = DEFAULT_MAX_NODES,
    max_steps: int = MAX_STEPS,
    max_bytes: int = MAX_SOURCE_BYTES,
    overrides: Iterable = (),
) -> Topology:
    """Parse and elaborate topology source ``text``; ``file`` names it in messages.

    Imports are resolved relative to ``root`` (default: the current directory). ``max_bytes``
    caps ``text`` and its imports together; ``overrides`` set top-level constants
    (``["NIC=800Gb/s"]``, see :mod:`topodsl.params`).
    """
    from .elaborate import elaborate
    from .parser import parse

    if len(text) > max_bytes:
        raise ElaborationError(
            [Diagnostic(None, "error", _too_big(file, len(text), max_bytes, "characters"))]
        )
    try:
        module = parse(text, file)
        return elaborate(
            module,
            texts={file: text},
            root=Path(root) if root is not None else Path.cwd(),
            allow_import_outside=allow_import_outside,
            max_nodes=max_nodes,
            overrides=overrides,
            max_steps=max_steps,
            max_bytes=max_bytes - len(text),
        )
    except RecursionError:
        raise ElaborationError(
            [Diagnostic(None, "error", f"{file}: the file nests too deeply to read")]
        ) from None


# -- reading files -------------------------------------------------------------------------------


class UnreadableSource(Exception):
    """A file that is not read: missing, not a regular file, too large, outside the root or
    not UTF-8. ``diagnostic`` says which, at the first bad byte where there is one."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.render())
        self.diagnostic = diagnostic


def read_source(
    path: Path, name: str, root: Path | None, limit: int, limit_name: str = "the limit"
) -> str:
    """The text of the file at ``path`` (named ``name`` in messages), read safely.

    Refused, each with a message: a symbolic link whose target lies outside ``root`` (no check
    when ``root`` is ``None``); anything but a regular file (a FIFO would block for ever, a
    device never end, a directory is no text); more than ``limit`` bytes (checked before
    reading, and again while reading, for files whose size is not what ``stat`` says); bytes
    that are not UTF-8, reported at the line and column of the first bad byte.

    Raises
    ------
    UnreadableSource
    """

    def refuse(message: str, hint: str | None = None) -> UnreadableSource:
        return UnreadableSource(Diagnostic(None, "error", message, hint))

    if root is not None and os.path.islink(path):
        target = os.path.realpath(path)
        if not Path(target).is_relative_to(root):
            raise refuse(
                f"{name} is a symbolic link to {target}, outside {root}",
                "a file named on the command line or imported must lie inside the directory "
                "it is named in; --allow-import-outside lifts this",
            )
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise refuse(f"no such file: {name}") from None
    except OSError as e:
        raise refuse(f"cannot read {name}: {e.strerror or e}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise refuse(
            f"cannot read {name}: it is {_file_type(st.st_mode)}, not a regular file",
            "topodsl reads regular files only; save the text to a file first",
        )
    with os.fdopen(fd, "rb") as fh:
        if st.st_size > limit:
            raise refuse(_too_big(name, st.st_size, limit, "bytes", limit_name), _SIZE_HINT)
        try:
            data = fh.read(limit + 1)
        except OSError as e:
            raise refuse(f"cannot read {name}: {e.strerror or e}") from None
    if len(data) > limit:
        raise refuse(_too_big(name, len(data), limit, "bytes", limit_name), _SIZE_HINT)
    return decode_utf8(data, name)


def decode_utf8(data: bytes, name: str) -> str:
    r"""``data`` as text (a leading byte-order mark dropped), or an error at the line and column
    of the first byte that is not UTF-8.

    >>> decode_utf8(b"ok\nab\xb3c", "f.topo")
    Traceback (most recent call last):
    ...
    topodsl.api.UnreadableSource: f.topo:2:3: error: the file is not UTF-8 text: byte 0xb3 ...
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        start = e.start
        line_start = data.rfind(b"\n", 0, start) + 1
        line = data.count(b"\n", 0, start) + 1
        col = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
        line_end = data.find(b"\n", start)
        shown = data[line_start : line_end if line_end >= 0 else len(data)]
        span = Span(name, line, col, line, col + 1)
        raise UnreadableSource(
            Diagnostic(
                span,
                "error",
                f"the file is not UTF-8 text: byte 0x{data[start]:02x} ({e.reason})",
                "save the file as UTF-8",
                shown.decode("utf-8", errors="replace"),
            )
        ) from None


_SIZE_HINT = (
    "the cap keeps every check within seconds (docs/security.md); load(max_bytes=N) raises it"
)


def _too_big(name: str, size: int, limit: int, unit: str, limit_name: str = "the limit") -> str:
    return f"{name} is {size:,} {unit}; {limit_name} is {limit:,}"


def _file_type(mode: int) -> str:
    for test, what in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return what
    return "not a regular file"
