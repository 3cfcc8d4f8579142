"""The language server for ``.topo`` files (``topodsl lsp``).

:mod:`topodsl.lsp.analysis` holds what the server knows about a document (diagnostics as
``topodsl check`` reports them, hover text, definitions, completions) as pure functions;
:mod:`topodsl.lsp.server` speaks the protocol with pygls. Needs ``pip install 'topodsl[lsp]'``.
"""

from __future__ import annotations

__all__ = ["serve"]


def serve() -> None:
    """Run the language server on stdio (imports pygls only when called)."""
    from .server import serve as _serve

    _serve()
