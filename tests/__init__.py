"""Test suite of the language server."""
