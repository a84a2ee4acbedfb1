// KFL for VS Code: starts the kfl language server (`kfl lsp`, stdio).
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

function serverPath(): string {
  const configured = vscode.workspace.getConfiguration("kfl").get<string>("path");
  return configured && configured.trim() !== "" ? configured.trim() : "kfl";
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  if (!vscode.workspace.getConfiguration("kfl").get<boolean>("lsp.enable", true)) {
    return;
  }
  const command = serverPath();
  const serverOptions: ServerOptions = {
    run: { command, args: ["lsp"], transport: TransportKind.stdio },
    debug: { command, args: ["lsp"], transport: TransportKind.stdio },
  };
  output ??= vscode.window.createOutputChannel("KFL Language Server");
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "kfl" },
      { scheme: "untitled", language: "kfl" },
    ],
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.kfl"),
    },
    outputChannel: output,
  };
  client = new LanguageClient("kfl", "KFL Language Server", serverOptions, clientOptions);
  try {
    await client.start();
  } catch (err) {
    client = undefined;
    const message = err instanceof Error ? err.message : String(err);
    void vscode.window
      .showErrorMessage(
        `Could not start \`${command} lsp\`: ${message}. Install kfl or set "kfl.path".`,
        "Open Settings",
      )
      .then((choice) => {
        if (choice === "Open Settings") {
          void vscode.commands.executeCommand("workbench.action.openSettings", "kfl.path");
        }
      });
  }
  context.subscriptions.push({ dispose: () => void client?.stop() });
}

async function stop(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) {
    await c.stop();
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("kfl.restartServer", async () => {
      await stop();
      await start(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration("kfl.path") || e.affectsConfiguration("kfl.lsp.enable")) {
        await stop();
        await start(context);
      }
    }),
  );
  await start(context);
}

export function deactivate(): Promise<void> | undefined {
  return client ? stop() : undefined;
}
