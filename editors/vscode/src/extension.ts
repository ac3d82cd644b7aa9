// lsp-server for VS Code: starts `lsp-server --stdio`, shows its inline completions as ghost
// text (LSP textDocument/inlineCompletion through vscode-languageclient), a status bar item,
// and commands that change settings or ask the server for edits.
import * as vscode from 'vscode';
import {
  ExecuteCommandRequest, LanguageClient, LanguageClientOptions, ServerOptions,
} from 'vscode-languageclient/node';
import { chooseModel } from './models';
import { SECTION, serverExecutable, serverSettings } from './server';
import { ServerStatus, StatusBar } from './status';

/** What `activate` returns: for other extensions and for tests. */
export interface Api {
  client(): LanguageClient | undefined;
  status(): ServerStatus;
  /** Texts of the inline completion items last shown (newest request). */
  lastInline(): string[];
  inlineRequests(): number;
  statusBarText(): string;
}

let client: LanguageClient | undefined;
let statusBar: StatusBar;
let lastInline: string[] = [];
let inlineRequests = 0;

function completionEnabled(): boolean {
  return vscode.workspace.getConfiguration(SECTION).get<boolean>('completion.enabled', true);
}

function makeClient(): LanguageClient {
  const exe = serverExecutable();
  const serverOptions: ServerOptions = { run: exe, debug: exe };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }],
    initializationOptions: serverSettings(),
    synchronize: { configurationSection: SECTION },
    middleware: {
      workspace: {
        // The server asks for section lspServer; it gets it without the client-only keys.
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          if (!Array.isArray(result)) {
            return result;
          }
          return result.map((value, i) =>
            params.items[i]?.section === SECTION && value ? serverSettings(value) : value);
        },
      },
      provideInlineCompletionItems: async (document, position, context, token, next) => {
        if (!completionEnabled()) {
          return null;
        }
        inlineRequests += 1;
        const result = await next(document, position, context, token);
        const items = Array.isArray(result) ? result : result?.items ?? [];
        if (!token.isCancellationRequested) {
          lastInline = items.map((it) =>
            typeof it.insertText === 'string' ? it.insertText : it.insertText.value);
        }
        return result;
      },
    },
  };
  const made = new LanguageClient('lsp-server', 'lsp-server', serverOptions, clientOptions);
  made.onNotification('lspServer/status', (params: ServerStatus) => statusBar.update(params));
  return made;
}

async function startClient(context: vscode.ExtensionContext): Promise<void> {
  client = makeClient();
  try {
    await client.start();
    context.subscriptions.push(statusBar.trackProgress(client));
  } catch (err) {
    const exe = serverExecutable();
    const choice = await vscode.window.showErrorMessage(
      `lsp-server could not start (${[exe.command, ...(exe.args ?? [])].join(' ')}): `
      + `${(err as Error).message}. Install it (pip install lsp-server) or set `
      + 'lspServer.server.path / lspServer.server.pythonPath.', 'Open Settings');
    if (choice) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'lspServer.server');
    }
  }
}

async function setEnabled(on: boolean): Promise<void> {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const inspect = cfg.inspect<boolean>('completion.enabled');
  // Change it where it is set, so that a workspace value does not hide the change.
  const target = inspect?.workspaceFolderValue !== undefined
    ? vscode.ConfigurationTarget.WorkspaceFolder
    : inspect?.workspaceValue !== undefined
      ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await cfg.update('completion.enabled', on, target);
  statusBar.setEnabled(on);
}

function serverHas(command: string): boolean {
  const cmds = client?.initializeResult?.capabilities.executeCommandProvider?.commands ?? [];
  return cmds.includes(command);
}

/** Run a server command; its edits come back as workspace/applyEdit. */
async function runServerCommand(command: string, args: unknown[]): Promise<unknown> {
  if (!client?.isRunning()) {
    void vscode.window.showWarningMessage('lsp-server is not running.');
    return undefined;
  }
  if (!serverHas(command)) {
    void vscode.window.showWarningMessage(`This lsp-server does not offer ${command}.`);
    return undefined;
  }
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'lsp-server: thinking…' },
    () => client!.sendRequest(ExecuteCommandRequest.type, { command, arguments: args }));
}

async function completeBlock(): Promise<unknown> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !client) {
    return undefined;
  }
  const c2p = client.code2ProtocolConverter;
  return runServerCommand('lspServer.completeBlock',
    [c2p.asUri(editor.document.uri), c2p.asPosition(editor.selection.active)]);
}

async function editSelection(instruction?: string): Promise<unknown> {
  const editor = vscode.window.activeTextEditor;
  if (!editor || !client) {
    return undefined;
  }
  const text = instruction ?? await vscode.window.showInputBox({
    title: 'lsp-server: edit selection',
    prompt: 'What should change in the selected code?',
    placeHolder: 'e.g. add type hints, handle the empty list, translate comments to English',
  });
  if (!text) {
    return undefined;
  }
  const c2p = client.code2ProtocolConverter;
  const sel = editor.selection;
  const range = sel.isEmpty ? editor.document.lineAt(sel.active.line).range : sel;
  return runServerCommand('lspServer.editSelection',
    [c2p.asUri(editor.document.uri), c2p.asRange(range), text]);
}

async function showStatus(): Promise<void> {
  const tip = statusBar.item.tooltip;
  const text = typeof tip === 'string' ? tip : tip?.value ?? 'lsp-server';
  const toggle = completionEnabled() ? 'Disable' : 'Enable';
  const choice = await vscode.window.showInformationMessage(text.replace(/\n/g, ' · '),
    toggle, 'Choose Model', 'Show Log');
  if (choice === toggle) {
    await setEnabled(!completionEnabled());
  } else if (choice === 'Choose Model') {
    await chooseModel();
  } else if (choice === 'Show Log') {
    client?.outputChannel.show();
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<Api> {
  statusBar = new StatusBar();
  statusBar.setEnabled(completionEnabled());
  context.subscriptions.push(
    statusBar,
    vscode.commands.registerCommand('lsp-server.enable', () => setEnabled(true)),
    vscode.commands.registerCommand('lsp-server.disable', () => setEnabled(false)),
    vscode.commands.registerCommand('lsp-server.toggle', () => setEnabled(!completionEnabled())),
    vscode.commands.registerCommand('lsp-server.completeBlock', completeBlock),
    vscode.commands.registerCommand('lsp-server.editSelection', editSelection),
    vscode.commands.registerCommand('lsp-server.chooseModel', chooseModel),
    vscode.commands.registerCommand('lsp-server.showStatus', showStatus),
    vscode.commands.registerCommand('lsp-server.restart', async () => {
      // A fresh client (not client.restart()), so the status bar tracks progress again.
      await client?.stop();
      await startClient(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration(`${SECTION}.completion.enabled`)) {
        statusBar.setEnabled(completionEnabled());
      }
      if (e.affectsConfiguration(`${SECTION}.server`)) {
        // A different program: start it afresh.
        await client?.stop();
        await startClient(context);
      }
    }),
    { dispose: () => void client?.stop() },
  );
  await startClient(context);
  return {
    client: () => client,
    status: () => statusBar.status,
    lastInline: () => lastInline,
    inlineRequests: () => inlineRequests,
    statusBarText: () => statusBar.item.text,
  };
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
