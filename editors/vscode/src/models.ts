// "Choose a model": the registry as `lsp-server models list` prints it, or any GGUF file.
import { execFile } from 'child_process';
import * as vscode from 'vscode';
import { SECTION, serverExecutable } from './server';

export interface ModelRow {
  id: string;
  isDefault: boolean;
  cells: string[]; // params, quant, size, family, status, ...
}

/** Rows of the table `lsp-server models list` prints (box-drawing characters between cells). */
export function parseModelTable(output: string): ModelRow[] {
  const rows: ModelRow[] = [];
  for (const line of output.split('\n')) {
    if (!line.includes('│')) {
      continue;
    }
    const cells = line.split('│').map((c) => c.trim()).filter((c, i, all) =>
      !(c === '' && (i === 0 || i === all.length - 1)));
    if (cells.length < 2) {
      continue;
    }
    const first = cells[0];
    const isDefault = first.startsWith('*');
    const id = first.replace(/^\*/, '').trim();
    if (/^[\w.+-]+$/.test(id)) {
      rows.push({ id, isDefault, cells: cells.slice(1) });
    }
  }
  return rows;
}

function listModels(): Promise<string> {
  const exe = serverExecutable();
  // Same program as the server, with the `models list` subcommand instead of --stdio.
  const args = exe.args?.[0] === '-m' ? ['-m', exe.args[1], 'models', 'list'] : ['models', 'list'];
  return new Promise((resolve, reject) => {
    execFile(exe.command, args, {
      timeout: 30000,
      env: { ...process.env, COLUMNS: '300', NO_COLOR: '1', TERM: 'dumb' },
    }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(stderr.trim() || err.message));
      } else {
        resolve(stdout);
      }
    });
  });
}

interface Pick extends vscode.QuickPickItem {
  id?: string;
  browse?: boolean;
}

export async function chooseModel(): Promise<void> {
  const items: Pick[] = [];
  try {
    for (const row of parseModelTable(await listModels())) {
      items.push({
        id: row.id,
        label: row.id,
        description: [row.isDefault ? 'default' : '', ...row.cells.slice(0, 5)]
          .filter(Boolean).join(' · '),
      });
    }
  } catch (err) {
    void vscode.window.showWarningMessage(
      `lsp-server: could not list models (${(err as Error).message}); choose a file instead.`);
  }
  items.push({ label: '$(file) Choose a GGUF file…', browse: true });
  const picked = await vscode.window.showQuickPick(items, {
    title: 'lsp-server: local model',
    placeHolder: 'A model of the registry (downloaded on first use) or a GGUF file',
    matchOnDescription: true,
  });
  if (!picked) {
    return;
  }
  const cfg = vscode.workspace.getConfiguration(SECTION);
  if (picked.browse) {
    const files = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: { 'GGUF model': ['gguf'] },
      title: 'lsp-server: GGUF model file',
    });
    if (!files?.length) {
      return;
    }
    await cfg.update('local.modelPath', files[0].fsPath, vscode.ConfigurationTarget.Global);
  } else {
    await cfg.update('local.model', picked.id, vscode.ConfigurationTarget.Global);
    await cfg.update('local.modelPath', undefined, vscode.ConfigurationTarget.Global);
  }
}
