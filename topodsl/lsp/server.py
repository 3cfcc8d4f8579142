"""The topodsl language server (``topodsl lsp``): LSP over stdio, built on pygls.

It publishes the diagnostics ``topodsl check`` reports (syntax and elaboration errors,
warnings, failing or unproven assertions) with ranges from their spans, and answers hover,
go-to-definition and completion from :mod:`topodsl.lsp.analysis`. Documents are analysed when
opened, changed and saved; diagnostics in imported files are reported at the ``import`` line.
"""

from __future__ import annotations

from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from .. import __version__
from ..errors import Diagnostic
from .analysis import Document, analyze, completions, definition, hover

__all__ = ["server", "serve", "to_lsp_diagnostics"]

server = LanguageServer(
    "topodsl", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full
)
_documents: dict[str, Document] = {}

_SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "note": types.DiagnosticSeverity.Information,
}
_COMPLETION_KIND = {
    "keyword": types.CompletionItemKind.Keyword,
    "kind": types.CompletionItemKind.Class,
    "attribute": types.CompletionItemKind.Property,
    "unit": types.CompletionItemKind.Unit,
    "link": types.CompletionItemKind.Interface,
    "def": types.CompletionItemKind.Struct,
    "const": types.CompletionItemKind.Constant,
    "component": types.CompletionItemKind.Variable,
}


def _path(uri: str) -> str:
    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


def to_lsp_diagnostics(doc: Document) -> list[types.Diagnostic]:
    """The document's diagnostics as LSP diagnostics (0-based ranges; those located in another
    file, such as an imported one, are placed at the import that brings it in)."""
    out = []
    for d in doc.diagnostics:
        out.append(
            types.Diagnostic(
                range=_range(doc, d),
                message=d.message + (f"\nhint: {d.hint}" if d.hint else ""),
                severity=_SEVERITY.get(d.severity, types.DiagnosticSeverity.Error),
                source="topodsl",
            )
        )
    return out


def _range(doc: Document, d: Diagnostic) -> types.Range:
    span = d.span
    if span is not None and span.file != doc.path:
        target = next((s for s, t in doc.imports if t == span.file), None)
        span = target
    if span is None:
        return types.Range(types.Position(0, 0), types.Position(0, 0))
    start = types.Position(span.line - 1, max(span.col - 1, 0))
    end_col = span.end_col - 1 if span.end_col > span.col or span.end_line > span.line else span.col
    end = types.Position(max(span.end_line - 1, span.line - 1), max(end_col, 0))
    return types.Range(start, end)


def _refresh(ls: LanguageServer, uri: str) -> None:
    text = ls.workspace.get_text_document(uri).source
    doc = analyze(text, _path(uri))
    _documents[uri] = doc
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, diagnostics=to_lsp_diagnostics(doc))
    )


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def _did_open(ls: LanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    _refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def _did_change(ls: LanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    _refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_SAVE)
def _did_save(ls: LanguageServer, params: types.DidSaveTextDocumentParams) -> None:
    _refresh(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def _did_close(ls: LanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    _documents.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[])
    )


def _doc(ls: LanguageServer, uri: str) -> Document:
    if uri not in _documents:
        _refresh(ls, uri)
    return _documents[uri]


@server.feature(types.TEXT_DOCUMENT_HOVER)
def _hover(ls: LanguageServer, params: types.HoverParams) -> types.Hover | None:
    doc = _doc(ls, params.text_document.uri)
    text = hover(doc, params.position.line, params.position.character)
    if text is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))


@server.feature(types.TEXT_DOCUMENT_DEFINITION)
def _definition(ls: LanguageServer, params: types.DefinitionParams) -> types.Location | None:
    doc = _doc(ls, params.text_document.uri)
    found = definition(doc, params.position.line, params.position.character)
    if found is None:
        return None
    file, (l0, c0), (l1, c1) = found
    uri = params.text_document.uri if file == doc.path else f"file://{file}"
    return types.Location(
        uri=uri, range=types.Range(types.Position(l0, c0), types.Position(l1, c1))
    )


@server.feature(
    types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[" ", "."])
)
def _completion(ls: LanguageServer, params: types.CompletionParams) -> types.CompletionList:
    doc = _doc(ls, params.text_document.uri)
    items = [
        types.CompletionItem(label=label, kind=_COMPLETION_KIND[kind], detail=detail)
        for label, kind, detail in completions(doc, params.position.line, params.position.character)
    ]
    return types.CompletionList(is_incomplete=False, items=items)


def serve() -> None:
    """Speak LSP on stdin and stdout until the client exits."""
    server.start_io()
