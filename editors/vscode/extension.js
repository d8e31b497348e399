// The netdsl VS Code extension: starts `netdsl lsp` over stdio for .net files.
// Highlighting comes from syntaxes/netdsl.tmLanguage.json; everything else
// (diagnostics, hover, completion, definitions, formatting) from the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("netdsl");
  const command = config.get("server.command", "netdsl");
  const args = config.get("server.args", ["lsp"]);
  const run = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient(
    "netdsl",
    "netdsl language server",
    { run, debug: run },
    {
      documentSelector: [{ scheme: "file", language: "netdsl" }, { scheme: "untitled", language: "netdsl" }],
      synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher("**/*.net") },
    },
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration("netdsl.server")) {
        vscode.window.showInformationMessage("netdsl: reload the window to restart the language server.");
      }
    }),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
