"""The language server: the only package that speaks LSP."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lsp-server")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
