// The status bar item: which tier answered, the model, online/offline, indexing progress.
import * as vscode from 'vscode';
import { LanguageClient, WorkDoneProgress, WorkDoneProgressCreateRequest }
  from 'vscode-languageclient/node';

/** The params of the server's `lspServer/status` notification (all optional). */
export interface ServerStatus {
  version?: string;
  localModel?: string;
  localReady?: boolean;
  localError?: string;
  strategy?: string;
  lastTier?: string;
  model?: string;
  remoteConfigured?: boolean;
  remoteReachable?: boolean;
  offline?: boolean;
  remoteState?: string;
  message?: string;
}

export class StatusBar implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  status: ServerStatus = {};
  enabled = true;
  private progress = new Map<string, string>(); // token -> "title 40%"

  constructor() {
    this.item = vscode.window.createStatusBarItem('lsp-server.status',
      vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'lsp-server';
    this.item.command = 'lsp-server.showStatus';
    this.render();
    this.item.show();
  }

  update(status: ServerStatus): void {
    this.status = { ...this.status, ...status };
    this.render();
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    this.render();
  }

  /** Show the server's work-done progress (indexing) here and in the window's progress area. */
  trackProgress(client: LanguageClient): vscode.Disposable {
    return client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
      const key = String(token);
      let finish: (() => void) | undefined;
      let report: ((msg: string) => void) | undefined;
      void vscode.window.withProgress({ location: vscode.ProgressLocation.Window,
        title: 'lsp-server' }, (p) => new Promise<void>((resolve) => {
        finish = resolve;
        report = (message) => p.report({ message });
      }));
      const sub = client.onProgress(WorkDoneProgress.type, token, (value) => {
        if (value.kind === 'end') {
          this.progress.delete(key);
          sub.dispose();
          finish?.();
        } else {
          const title = value.kind === 'begin' ? value.title : (this.progress.get(key) ?? '')
            .replace(/ \d+%$/, '');
          const pct = value.percentage !== undefined ? ` ${value.percentage}%` : '';
          const text = `${title}${pct}`.trim() || (value.message ?? 'working');
          this.progress.set(key, text);
          report?.(value.message ? `${text}: ${value.message}` : text);
        }
        this.render();
      });
    });
  }

  private render(): void {
    const s = this.status;
    const model = s.model || s.localModel || '';
    const busy = [...this.progress.values()][0];
    let icon = '$(sparkle)';
    if (!this.enabled) {
      icon = '$(circle-slash)';
    } else if (busy) {
      icon = '$(sync~spin)';
    } else if (s.localError) {
      icon = '$(warning)';
    } else if (s.offline) {
      icon = '$(cloud-offline)';
    }
    const parts = [icon, 'AI'];
    if (!this.enabled) {
      parts.push('off');
    } else if (busy) {
      parts.push(busy);
    } else if (s.lastTier) {
      parts.push(s.lastTier);
    }
    this.item.text = parts.join(' ');
    const online = s.offline ? 'offline' : s.remoteConfigured
      ? (s.remoteReachable === false ? 'remote unreachable' : 'online') : 'local only';
    const lines = [
      `lsp-server ${s.version ?? ''}`.trim(),
      `Completion: ${this.enabled ? 'on' : 'off'}`,
      `Model: ${model || '(none yet)'}${s.localReady ? '' : ' (loading)'}`,
      `Last answer from: ${s.lastTier || '-'}`,
      `Network: ${online}${s.strategy ? `, strategy ${s.strategy}` : ''}`,
    ];
    if (s.localError) {
      lines.push(`Local model error: ${s.localError}`);
    }
    if (s.message) {
      lines.push(s.message);
    }
    this.item.tooltip = lines.join('\n');
  }

  dispose(): void {
    this.item.dispose();
  }
}
