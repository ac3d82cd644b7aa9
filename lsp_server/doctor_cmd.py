"""`lsp-server doctor`: what works and what does not, on one screen."""

from __future__ import annotations

import argparse

from lsp_server.config import build_config
from models.doctor import collect, exit_code, print_checks


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="lsp-server doctor",
        description="Check Python, llama-cpp-python, the GPU, the model, the index and the "
        "remote provider, with the settings the server would use (user config file).",
    )
    parser.parse_args(argv)
    config, warnings = build_config()
    for warning in warnings:
        print(f"config: {warning}")
    checks = collect(config.local, config.remote, config.router)
    print_checks(checks)
    return exit_code(checks)
