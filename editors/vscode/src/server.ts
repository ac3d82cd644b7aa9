// How to start the server and what configuration to give it.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { Executable } from 'vscode-languageclient/node';

export const SECTION = 'lspServer';
// Settings the extension itself uses; the server never sees them.
const CLIENT_ONLY = ['server'];

function onPath(name: string): string | undefined {
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) {
          return candidate;
        }
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** `lspServer.server.path`, else `lsp-server` on PATH, else `python -m lsp_server.cli`. */
export function serverExecutable(): Executable {
  const cfg = vscode.workspace.getConfiguration(SECTION);
  const explicit = cfg.get<string>('server.path', '').trim();
  const python = cfg.get<string>('server.pythonPath', '').trim();
  const logLevel = cfg.get<string>('server.logLevel', 'info');
  const tail = ['--stdio', '--log-level', logLevel];
  if (explicit) {
    return { command: explicit, args: tail };
  }
  if (!python) {
    const found = onPath('lsp-server');
    if (found) {
      return { command: found, args: tail };
    }
  }
  return { command: python || 'python3', args: ['-m', 'lsp_server.cli', ...tail] };
}

/** The server's part of the settings, as a plain JSON object. */
export function serverSettings(value?: unknown): Record<string, unknown> {
  const raw = value ?? vscode.workspace.getConfiguration().get(SECTION) ?? {};
  const plain = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
  for (const key of CLIENT_ONLY) {
    delete plain[key];
  }
  return plain;
}
