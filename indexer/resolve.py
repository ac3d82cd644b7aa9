"""Where an import points: workspace path suffixes a module may live at, per language."""

from __future__ import annotations

import posixpath

from indexer.extract import Import

_JS_EXTS = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".d.ts")


def _norm(path: str) -> str:
    out = posixpath.normpath(path)
    return "" if out == "." else out


def module_paths(language: str, current: str, imp: Import) -> list[str]:
    """Workspace-relative path suffixes the imported module may be defined in.

    A suffix starting with "/" is exact (resolved relative to the importing file); any other
    matches a path ending with it (so `src/` layouts and vendored trees still resolve).
    """
    here = posixpath.dirname(current)
    module, name = imp.module, imp.name
    if language == "python":
        dots = len(module) - len(module.lstrip("."))
        parts = [p for p in module.lstrip(".").split(".") if p]
        if dots:
            base = here
            for _ in range(dots - 1):
                base = posixpath.dirname(base)
            stem = _norm(posixpath.join(base, *parts)) if parts else base
            prefix = "/"
        else:
            stem = "/".join(parts)
            prefix = ""
        out = []
        if stem:
            out += [f"{prefix}{stem}.py", f"{prefix}{stem}/__init__.py", f"{prefix}{stem}.pyi"]
        if name and name != "*":  # `from pkg import module`
            sub = f"{stem}/{name}" if stem else name
            out += [f"{prefix}{sub}.py", f"{prefix}{sub}/__init__.py"]
        return [o.replace("//", "/") for o in out]
    if language in ("javascript", "typescript", "tsx"):
        if not module.startswith("."):
            return []
        stem = _norm(posixpath.join(here, module))
        if posixpath.splitext(stem)[1] in _JS_EXTS:
            return ["/" + stem]
        return ["/" + stem + ext for ext in _JS_EXTS] + [
            f"/{stem}/index{ext}" for ext in _JS_EXTS
        ]
    if language == "go":
        tail = "/".join(module.split("/")[-2:])
        return [f"{tail}/"]
    if language == "rust":
        parts = [p for p in module.split("::") if p not in ("crate", "self", "super", "")]
        if not parts:
            return []
        stem = "/".join(parts)
        return [f"{stem}.rs", f"{stem}/mod.rs", f"{parts[-1]}.rs"]
    if language == "java":
        stem = module.replace(".", "/")
        return [f"{stem}/{name}.java"] if name and name != "*" else [f"{stem}/"]
    if language in ("c", "cpp"):
        return [module]
    if language == "ruby":
        stem = _norm(posixpath.join(here, module)) if module.startswith(".") else module
        return [stem if stem.endswith(".rb") else stem + ".rb"]
    if language == "php":
        stem = module.replace("\\", "/")
        return [f"{stem}/{name}.php" if stem else f"{name}.php"]
    return []


def submodule_paths(language: str, current: str, imp: Import) -> list[str]:
    """Where `from pkg import name` finds `name` if it is a module itself (Python only)."""
    if language != "python" or imp.name in ("", "*"):
        return []
    tails = (f"/{imp.name}.py", f"/{imp.name}/__init__.py")
    return [p for p in module_paths(language, current, imp)
            if p.endswith(tails) or p in (f"{imp.name}.py", f"{imp.name}/__init__.py")]


def path_matches(path: str, suffixes: list[str]) -> bool:
    for suffix in suffixes:
        if suffix.startswith("/"):
            exact = suffix[1:]
            if path == exact or (exact.endswith("/") and path.startswith(exact)):
                return True
        elif suffix.endswith("/"):
            if path.startswith(suffix) or f"/{suffix}" in f"/{path}":
                return True
        elif path == suffix or path.endswith("/" + suffix):
            return True
    return False
