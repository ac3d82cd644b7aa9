"""Helpers shared by the test suite: real vocabularies and tiny generated GGUF models."""
