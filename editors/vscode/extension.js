// Starts `topodsl lsp` over stdio for .topo files (settings: topodsl.server.command, .args).
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("topodsl");
  const server = {
    command: config.get("server.command", "topodsl"),
    args: config.get("server.args", ["lsp"]),
    transport: TransportKind.stdio,
  };
  client = new LanguageClient(
    "topodsl",
    "topodsl language server",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "topodsl" }] }
  );
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
