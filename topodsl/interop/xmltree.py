"""Untrusted XML to a small tree of :class:`XNode`, each with the line and column it starts at.

XML arrives in pull requests, so it is read with ``defusedxml``: no entity declarations (so no
"billion laughs" expansion), no external entities, no network. On top of that the reader caps
the size of the text, the number of elements and the nesting depth, so a hostile file fails
with a clear message in well under a second instead of filling memory. Every error is a
:class:`~topodsl.errors.ElaborationError` at ``file:line:col`` with the source line and a caret.

>>> root = parse_xml('<system version="1">\\n  <cpu numaid="0"/>\\n</system>', "t.xml")
>>> root.tag, root.children[0].tag, root.children[0].line, root.children[0].get("numaid")
('system', 'cpu', 2, '0')
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser, ParseError

from ..errors import Diagnostic, ElaborationError, Span, source_line

__all__ = ["XNode", "parse_xml", "xml_error", "MAX_XML_ELEMENTS", "MAX_XML_DEPTH"]

#: At most this many elements in one file (a 4-socket server with every PU is ~20,000).
MAX_XML_ELEMENTS = 500_000
#: At most this deep (hwloc nests ~15 levels, NCCL ~10).
MAX_XML_DEPTH = 200


@dataclass(eq=False)
class XNode:
    """One XML element: tag, attributes, children, text, and where it starts (1-based)."""

    tag: str
    attrs: dict[str, str]
    line: int
    col: int
    parent: XNode | None = field(default=None, repr=False)
    children: list[XNode] = field(default_factory=list, repr=False)
    text: str = ""

    def get(self, name: str, default: str | None = None) -> str | None:
        """The attribute ``name``, or ``default``."""
        return self.attrs.get(name, default)

    def find_all(self, tag: str) -> list[XNode]:
        """Direct children with this tag."""
        return [c for c in self.children if c.tag == tag]

    def walk(self) -> Iterator[XNode]:
        """This element and every element below it, in document order (no recursion)."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))


class _Builder:
    """The parser's target: builds :class:`XNode` trees, noting positions and counting."""

    def __init__(self, file: str):
        self.file = file
        self.expat = None
        self.root: XNode | None = None
        self.stack: list[XNode] = []
        self.count = 0

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        line = self.expat.CurrentLineNumber if self.expat else 1
        col = (self.expat.CurrentColumnNumber if self.expat else 0) + 1
        self.count += 1
        if self.count > MAX_XML_ELEMENTS:
            raise _Limit(f"the file has more than {MAX_XML_ELEMENTS:,} XML elements", line, col)
        if len(self.stack) >= MAX_XML_DEPTH:
            raise _Limit(f"the XML nests deeper than {MAX_XML_DEPTH} elements", line, col)
        parent = self.stack[-1] if self.stack else None
        node = XNode(tag, dict(attrs), line, col, parent)
        if parent is None:
            self.root = node
        else:
            parent.children.append(node)
        self.stack.append(node)

    def end(self, tag: str) -> None:
        self.stack.pop()

    def data(self, text: str) -> None:
        if self.stack and len(self.stack[-1].text) < 1_000_000:
            self.stack[-1].text += text

    def close(self) -> XNode | None:
        return self.root


class _Limit(Exception):
    def __init__(self, message: str, line: int, col: int):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


def xml_error(
    file: str, text: str | None, line: int, col: int, message: str, hint: str | None = None
) -> ElaborationError:
    """An :class:`ElaborationError` at ``file:line:col`` with the source line and a caret.

    A very long line (XML written on one line) is quoted as a short excerpt instead."""
    shown = source_line(file, line, text)
    if shown is not None and len(shown) > 160:
        lo = max(0, col - 40)
        excerpt = shown[lo : lo + 80]
        shown = None
        hint = f"near: {excerpt!r}" + (f"; {hint}" if hint else "")
    span = Span(file, line, col, line, col + 1)
    return ElaborationError([Diagnostic(span, "error", message, hint, shown)])


def parse_xml(text: str, file: str = "<xml>") -> XNode:
    """Parse untrusted XML ``text`` into an :class:`XNode` tree.

    Raises
    ------
    ElaborationError
        At ``file:line:col``: the XML is not well-formed, declares entities, names an external
        entity, has no root element, or is over the element or depth caps.
    """
    builder = _Builder(file)
    parser = DefusedXMLParser(target=builder, forbid_dtd=False)
    builder.expat = parser.parser
    try:
        parser.feed(text)
        root = parser.close()
    except ParseError as e:
        line, col = getattr(e, "position", (1, 0))
        message = str(e).split(": line")[0]
        raise xml_error(file, text, line, col + 1, f"not well-formed XML: {message}") from None
    except DefusedXmlException as e:
        line, col = builder.expat.CurrentLineNumber, builder.expat.CurrentColumnNumber + 1
        raise xml_error(
            file,
            text,
            line,
            col,
            f"the XML declares entities or refers to external ones ({type(e).__name__})",
            "topology files never need entities; they are refused so a file cannot expand "
            "without bound or read other files",
        ) from None
    except _Limit as e:
        raise xml_error(file, text, e.line, e.col, e.message) from None
    except RecursionError:  # pragma: no cover - the depth cap comes first
        raise xml_error(file, text, 1, 1, "the XML nests too deeply to read") from None
    if root is None:
        raise xml_error(file, text, 1, 1, "the file has no XML element")
    return root
