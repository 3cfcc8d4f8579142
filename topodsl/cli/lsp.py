"""``lsp``: the language server for editors, over stdio."""

from __future__ import annotations

import click

from .common import main


@main.command()
def lsp() -> None:
    """Run the topodsl language server on stdin/stdout (for editors).

    Diagnostics as `topodsl check` reports them, hover, go-to-definition and completion.
    Needs: pip install 'topodsl[lsp]'.
    """
    try:
        from ..lsp.server import serve
    except ImportError:
        click.echo(
            "error: the language server needs pygls, which is not installed\n"
            "  hint: install it with: pip install 'topodsl[lsp]'",
            err=True,
        )
        raise SystemExit(2) from None
    serve()
