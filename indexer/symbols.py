"""What extraction produces for one file: definitions, imports, used identifiers."""

from __future__ import annotations

from dataclasses import dataclass, field

Pos = tuple[int, int]  # 0-based (line, column in code points)

# Kinds: function, method, constructor, class, struct, interface, trait, enum, enum_member,
# type, module, namespace, constant, variable, field, property, macro.


@dataclass(slots=True)
class Symbol:
    name: str
    kind: str
    start: Pos
    end: Pos
    name_start: Pos
    name_end: Pos
    scope: str = ""  # dotted names of the enclosing definitions ("" at top level)
    signature: str = ""
    doc: str = ""  # first line of the docstring or doc comment
    parent: int = -1  # index of the enclosing definition in FileSymbols.definitions
    snippet: str = ""  # signature + short body, or a class with its members' signatures


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # "os.path", "./foo", "std::collections", "java.util"
    name: str = ""  # imported name ("" = the module itself, "*" = everything)
    alias: str = ""  # local name when renamed


@dataclass(slots=True)
class FileSymbols:
    path: str
    language: str
    definitions: list[Symbol] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    identifiers: frozenset[str] = frozenset()
    line_count: int = 0
    has_errors: bool = False

    def local_names(self) -> set[str]:
        """Names an import binds in this file, mapped by resolution code to their modules."""
        out = set()
        for imp in self.imports:
            if imp.alias:
                out.add(imp.alias)
            elif imp.name and imp.name != "*":
                out.add(imp.name)
        return out
