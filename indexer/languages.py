"""File extensions and LSP languageIds mapped to a language name and its tree-sitter grammar."""

from __future__ import annotations

import importlib
import os
import threading
from functools import cache
from pathlib import PurePath

from tree_sitter import Language, Parser

# language name -> (grammar module, function returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "go": ("tree_sitter_go", "language"),
    "rust": ("tree_sitter_rust", "language"),
    "java": ("tree_sitter_java", "language"),
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "csharp": ("tree_sitter_c_sharp", "language"),
    "ruby": ("tree_sitter_ruby", "language"),
    "php": ("tree_sitter_php", "language_php"),
}

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".c++": "cpp", ".hpp": "cpp", ".hh": "cpp",
    ".hxx": "cpp", ".h++": "cpp", ".ipp": "cpp", ".inl": "cpp",
    ".cs": "csharp",
    ".rb": "ruby", ".rake": "ruby", ".gemspec": "ruby",
    ".php": "php", ".phtml": "php",
}

FILENAMES: dict[str, str] = {"Rakefile": "ruby", "Gemfile": "ruby", "SConstruct": "python"}

# LSP languageId -> language name
LANGUAGE_IDS: dict[str, str] = {
    "python": "python",
    "javascript": "javascript", "javascriptreact": "javascript",
    "typescript": "typescript", "typescriptreact": "tsx",
    "go": "go", "rust": "rust", "java": "java", "c": "c", "cpp": "cpp",
    "csharp": "csharp", "ruby": "ruby", "php": "php",
}

SUPPORTED: tuple[str, ...] = tuple(_GRAMMARS)

_local = threading.local()


def language_for_path(path: str | PurePath) -> str | None:
    # String operations: this runs for every file of every walk.
    name = os.path.basename(os.fspath(path))
    dot = name.rfind(".")
    ext = name[dot:].lower() if dot > 0 else ""
    return EXTENSIONS.get(ext) or FILENAMES.get(name)


def language_for_id(language_id: str) -> str | None:
    return LANGUAGE_IDS.get(language_id.lower()) if language_id else None


def resolve_language(language_id: str = "", path: str | PurePath = "") -> str | None:
    """The language name from an LSP languageId, else from the path's extension."""
    return language_for_id(language_id) or (language_for_path(path) if path else None)


@cache
def grammar(language: str) -> Language | None:
    """The tree-sitter Language for a name; None when unknown or its package is missing."""
    spec = _GRAMMARS.get(language)
    if spec is None:
        return None
    try:
        mod = importlib.import_module(spec[0])
        return Language(getattr(mod, spec[1])())
    except (ImportError, AttributeError, ValueError, OSError):
        return None


def parser_for(language: str) -> Parser | None:
    """A cached Parser for this thread (Parser objects must not be shared across threads)."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(language)
    if parser is None:
        lang = grammar(language)
        if lang is None:
            return None
        parser = parsers[language] = Parser(lang)
    return parser
