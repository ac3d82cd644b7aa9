// Runs inside code-server's extension host when DRIVER_OUT is set: uses the lsp-server extension
// as a user would (ghost text triggered and committed, commands run) and writes what happened to
// DRIVER_OUT as JSON. DRIVER_FILE is the Python file to complete (cursor at the end of line 6);
// DRIVER_BLOCK_FILE / DRIVER_BLOCK_LINE (0-based) the block for "complete this block".
'use strict';
const fs = require('fs');
const vscode = require('vscode');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what, ms, cond, steps) {
  const start = Date.now();
  for (;;) {
    const value = await cond();
    if (value) {
      steps.push({ what, ms: Date.now() - start });
      return value;
    }
    if (Date.now() - start > ms) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(100);
  }
}

// An inline completion request straight to the server, past the extension's middleware: what
// the server itself answers with its current configuration. null when the server cancelled it
// (the editor's own request for the same document superseded it).
async function serverInline(api, doc, pos) {
  const client = api.client();
  const c2p = client.code2ProtocolConverter;
  let result;
  try {
    result = await client.sendRequest('textDocument/inlineCompletion', {
      textDocument: { uri: c2p.asUri(doc.uri) },
      position: c2p.asPosition(pos),
      context: { triggerKind: 1 },
    });
  } catch (err) {
    return null;
  }
  const items = Array.isArray(result) ? result : (result && result.items) || [];
  return items.map((it) => (typeof it.insertText === 'string' ? it.insertText : it.insertText.value));
}

async function run(result) {
  const steps = result.steps;
  const t0 = Date.now();
  const mark = (what) => steps.push({ what, at: Date.now() - t0 });
  const ext = vscode.extensions.getExtension('lsp-server.lsp-server');
  result.found = Boolean(ext);
  const api = await ext.activate();
  result.activated = ext.isActive;
  mark('activated');
  await waitFor('server running', 30000, () => api.client() && api.client().isRunning(), steps);
  await waitFor('model ready', 90000, () => api.status().localReady, steps);
  result.status = api.status();
  result.statusBar = api.statusBarText();
  result.serverCommands = ((api.client().initializeResult || {}).capabilities || {})
    .executeCommandProvider?.commands || [];

  const doc = await vscode.workspace.openTextDocument(process.env.DRIVER_FILE);
  const editor = await vscode.window.showTextDocument(doc);
  const line = 5;
  const original = doc.lineAt(line).text;
  const pos = new vscode.Position(line, original.length);
  result.original = doc.getText();
  mark('document open');

  // Ghost text: trigger, wait for our server's items, commit what the editor shows.
  for (let attempt = 1; attempt <= 3 && result.afterCommit === undefined; attempt++) {
    editor.selection = new vscode.Selection(pos, pos);
    const before = api.inlineRequests();
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
    await waitFor(`inline items (attempt ${attempt})`, 60000,
      () => api.inlineRequests() > before && api.lastInline().length > 0, steps);
    result.lastInline = api.lastInline();
    await sleep(300); // let the widget render the ghost text
    await vscode.commands.executeCommand('editor.action.inlineSuggest.commit');
    const start = Date.now();
    while (Date.now() - start < 3000 && doc.lineAt(line).text === original) {
      await sleep(100);
    }
    if (doc.lineAt(line).text !== original) {
      result.afterCommit = doc.getText();
      result.commitAttempts = attempt;
    }
  }
  result.statusBarAfter = api.statusBarText();
  mark('ghost text committed');
  result.statusAfter = api.status();

  // Back to the original text for the command checks.
  await editor.edit((e) => e.replace(new vscode.Range(0, 0, doc.lineCount, 0), result.original));
  const end = new vscode.Position(line, doc.lineAt(line).text.length);
  editor.selection = new vscode.Selection(end, end);

  // Disable / enable: the setting changes, the server is told and stops / resumes answering.
  await vscode.commands.executeCommand('lsp-server.disable');
  mark('disabled');
  result.settingAfterDisable = vscode.workspace.getConfiguration('lspServer').get('completion.enabled');
  result.statusBarDisabled = api.statusBarText();
  result.serverWhileDisabled = await waitFor('server sees disabled', 20000, async () => {
    const items = await serverInline(api, doc, end);
    return items && items.length === 0 ? ['(none)'] : null;
  }, steps);
  await vscode.commands.executeCommand('lsp-server.enable');
  mark('enabled');
  result.settingAfterEnable = vscode.workspace.getConfiguration('lspServer').get('completion.enabled');
  result.serverWhileEnabled = await waitFor('server sees enabled', 60000, async () => {
    const items = await serverInline(api, doc, end);
    return items && items.length > 0 ? items : null;
  }, steps);

  mark('before complete block');
  // Complete this block, through the server's command and workspace/applyEdit.
  if (result.serverCommands.includes('lspServer.completeBlock')) {
    const blockDoc = await vscode.workspace.openTextDocument(process.env.DRIVER_BLOCK_FILE);
    const blockEditor = await vscode.window.showTextDocument(blockDoc);
    const at = new vscode.Position(Number(process.env.DRIVER_BLOCK_LINE), 0);
    blockEditor.selection = new vscode.Selection(at, at);
    const before = blockDoc.getText();
    try {
      result.completeBlockReturned = await vscode.commands.executeCommand('lsp-server.completeBlock');
      mark('complete block answered');
      result.afterCompleteBlock = blockDoc.getText();
      result.completeBlockChanged = result.afterCompleteBlock !== before;
    } catch (err) {
      result.completeBlockError = String(err);
    }
  }
}

exports.activate = function activate() {
  const out = process.env.DRIVER_OUT;
  if (!out) {
    return;
  }
  const result = { steps: [] };
  run(result)
    .catch((err) => { result.error = String((err && err.stack) || err); })
    .finally(() => fs.writeFileSync(out, JSON.stringify(result, null, 1)));
};

exports.deactivate = function deactivate() {};
