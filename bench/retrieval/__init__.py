"""Retrieval benchmark: what the index puts into prompts, and its cost."""
