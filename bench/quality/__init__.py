"""Completion-quality benchmarks: the completion pipeline against the raw model, on published
fill-in-the-middle sets and on a cross-file set built from pinned PyPI source distributions.

Run `python -m bench.quality --help`.
"""
