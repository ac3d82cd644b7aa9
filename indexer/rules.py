"""Per-language extraction rules: which tree-sitter nodes define what, and their imports.

Each language maps node types to handlers. A handler records a definition through the
extractor (`ex.add`, which also visits a class-like body as members) or descends (`ex.visit`)
into nodes that only wrap definitions (export statements, preprocessor blocks, namespaces).
Nodes without a handler are never entered, so function bodies cost nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from indexer.symbols import Import

if TYPE_CHECKING:
    from indexer.extract import Extractor

SIGNATURE_MAX_CHARS = 240

# --------------------------------------------------------------------------- docs


_COMMENT_MARKERS = re.compile(r"^\s*(?:/\*\*?|\*/|\*|///?!?|//!|#+|--)\s?")


def _clean_comment_line(line: str) -> str:
    line = _COMMENT_MARKERS.sub("", line).strip()
    line = line.removesuffix("*/").strip()
    return re.sub(r"</?\w+[^>]*>", "", line).strip()  # C# XML doc tags


def _first_doc_line(text: str) -> str:
    for line in text.splitlines():
        cleaned = _clean_comment_line(line)
        if cleaned:
            return cleaned[:SIGNATURE_MAX_CHARS]
    return ""


_WRAPPERS = frozenset({
    "export_statement", "decorated_definition", "template_declaration", "declaration",
    "type_declaration", "const_declaration", "var_declaration", "lexical_declaration",
    "variable_declaration",
})


def comment_doc(ex: Extractor, node: Node) -> str:
    """The first line of the comment block right above the definition."""
    anchor = node
    while anchor.parent is not None and anchor.parent.type in _WRAPPERS:
        anchor = anchor.parent
    prev = anchor.prev_named_sibling
    if prev is None and anchor.parent is not None and anchor.parent.type == "body_statement":
        prev = anchor.parent.prev_named_sibling  # Ruby: the comment sits before the body
    top = None
    line = anchor.start_point[0]
    while prev is not None and "comment" in prev.type and prev.end_point[0] >= line - 1:
        before = prev.prev_named_sibling
        if before is not None and "comment" not in before.type and (
            before.end_point[0] == prev.start_point[0]
        ):
            break  # a trailing comment of the line above, not a doc comment
        top = prev
        line = prev.start_point[0]
        prev = prev.prev_named_sibling
    if top is None:
        return ""
    # A block of line comments: read from the topmost one down.
    start = top.start_byte
    text = ex.src[start : anchor.start_byte].decode("utf-8", "replace")
    return _first_doc_line(text)


def python_doc(ex: Extractor, node: Node) -> str:
    body = node.child_by_field_name("body")
    if body is None or node.type not in ("function_definition", "class_definition"):
        return ""
    first = body.named_children[0] if body.named_child_count else None
    if first is None or first.type != "expression_statement" or not first.named_child_count:
        return ""
    string = first.named_children[0]
    if string.type != "string":
        return ""
    raw = ex.text(string)
    raw = re.sub(r"^[rRbBuUfF]*('''|\"\"\"|'|\")", "", raw)
    raw = re.sub(r"('''|\"\"\"|'|\")$", "", raw)
    return _first_doc_line(raw)


# --------------------------------------------------------------------------- rules


Handler = Callable[["Extractor", Node], None]


@dataclass
class Rules:
    handlers: dict[str, Handler]
    identifier_query: str
    doc: Callable[[Extractor, Node], str] = comment_doc


def _transparent(ex: Extractor, node: Node) -> None:
    ex.visit(node)


def _is_constant_name(name: str) -> bool:
    return len(name) > 1 and name.upper() == name and any(c.isalpha() for c in name)


def _define(kind: str, *, member_kind: str | None = None, body: str | None = None) -> Handler:
    """A definition with a `name` field; inside a class-like scope its kind is `member_kind`."""

    def handler(ex: Extractor, node: Node) -> None:
        k = member_kind if member_kind and ex.in_class else kind
        body_node = node.child_by_field_name(body) if body else None
        ex.add(node, node.child_by_field_name("name"), k, body=body_node)

    return handler


# Python ---------------------------------------------------------------------


def _py_assignment(ex: Extractor, node: Node) -> None:
    if not node.named_child_count:
        return
    assign = node.named_children[0]
    if assign.type != "assignment":
        return
    left = assign.child_by_field_name("left")
    if left is None:
        return
    targets = [left] if left.type == "identifier" else [
        c for c in left.named_children if c.type == "identifier"
    ] if left.type in ("pattern_list", "tuple_pattern") else []
    for target in targets:
        name = ex.text(target)
        if ex.in_class:
            kind = "field"
        elif _is_constant_name(name):
            kind = "constant"
        else:
            kind = "variable"
        ex.add(node, target, kind)


def _py_import(ex: Extractor, node: Node) -> None:
    for child in node.children_by_field_name("name"):
        if child.type == "aliased_import":
            ex.imports.append(Import(
                ex.text(child.child_by_field_name("name")),
                alias=ex.text(child.child_by_field_name("alias")),
            ))
        else:
            ex.imports.append(Import(ex.text(child)))


def _py_import_from(ex: Extractor, node: Node) -> None:
    module = "".join(ex.text(node.child_by_field_name("module_name")).split())
    names = node.children_by_field_name("name")
    if not names and any(c.type == "wildcard_import" for c in node.named_children):
        ex.imports.append(Import(module, "*"))
    for child in names:
        if child.type == "aliased_import":
            ex.imports.append(Import(
                module,
                ex.text(child.child_by_field_name("name")),
                ex.text(child.child_by_field_name("alias")),
            ))
        else:
            ex.imports.append(Import(module, ex.text(child)))


PYTHON = Rules(
    handlers={
        "function_definition": _define("function", member_kind="method"),
        "class_definition": _define("class", body="body"),
        "decorated_definition": _transparent,
        "expression_statement": _py_assignment,
        "import_statement": _py_import,
        "import_from_statement": _py_import_from,
        "future_import_statement": lambda ex, n: ex.imports.append(Import("__future__")),
        **dict.fromkeys(
            ("if_statement", "else_clause", "elif_clause", "try_statement", "except_clause",
             "finally_clause", "block", "with_statement"),
            _transparent,
        ),
    },
    identifier_query="(identifier) @id",
    doc=python_doc,
)

# JavaScript / TypeScript -----------------------------------------------------

_JS_FUNCTION_VALUES = frozenset({
    "arrow_function", "function_expression", "function", "generator_function",
})


def _js_string(ex: Extractor, node: Node | None) -> str:
    return ex.text(node).strip("'\"`") if node is not None else ""


def _js_declaration(ex: Extractor, node: Node) -> None:
    for decl in node.named_children:
        if decl.type != "variable_declarator":
            continue
        name = decl.child_by_field_name("name")
        value = decl.child_by_field_name("value")
        if value is not None and value.type == "call_expression":
            fn = value.child_by_field_name("function")
            args = value.child_by_field_name("arguments")
            if fn is not None and ex.text(fn) == "require" and args is not None:
                strings = [c for c in args.named_children if c.type == "string"]
                if strings and name is not None:
                    ex.imports.append(Import(_js_string(ex, strings[0]), alias=ex.text(name)))
                    continue
        if name is None or name.type not in ("identifier",):
            continue
        if value is not None and value.type in _JS_FUNCTION_VALUES:
            kind = "function"
        elif value is not None and value.type == "class":
            kind = "class"
        elif _is_constant_name(ex.text(name)):
            kind = "constant"
        else:
            kind = "variable"
        ex.add(decl, name, kind, sig_node=node if len(node.named_children) == 1 else decl)


def _js_import(ex: Extractor, node: Node) -> None:
    module = _js_string(ex, node.child_by_field_name("source"))
    clause = next((c for c in node.named_children if c.type == "import_clause"), None)
    if clause is None:
        ex.imports.append(Import(module))
        return
    for child in clause.named_children:
        if child.type == "identifier":
            ex.imports.append(Import(module, "default", ex.text(child)))
        elif child.type == "namespace_import":
            ids = [c for c in child.named_children if c.type == "identifier"]
            ex.imports.append(Import(module, "*", ex.text(ids[0]) if ids else ""))
        elif child.type == "named_imports":
            for spec in child.named_children:
                if spec.type == "import_specifier":
                    ex.imports.append(Import(
                        module,
                        ex.text(spec.child_by_field_name("name")),
                        ex.text(spec.child_by_field_name("alias")),
                    ))


def _js_field(ex: Extractor, node: Node) -> None:
    name = node.child_by_field_name("name") or node.child_by_field_name("property")
    ex.add(node, name, "field")


def _js_method(ex: Extractor, node: Node) -> None:
    name = node.child_by_field_name("name")
    kind = "constructor" if ex.text(name) == "constructor" else "method"
    ex.add(node, name, kind)


_JS_HANDLERS: dict[str, Handler] = {
    "function_declaration": _define("function"),
    "generator_function_declaration": _define("function"),
    "class_declaration": _define("class", body="body"),
    "class": _define("class", body="body"),
    "method_definition": _js_method,
    "field_definition": _js_field,
    "lexical_declaration": _js_declaration,
    "variable_declaration": _js_declaration,
    "export_statement": _transparent,
    "import_statement": _js_import,
}
_TS_HANDLERS: dict[str, Handler] = {
    **_JS_HANDLERS,
    "abstract_class_declaration": _define("class", body="body"),
    "interface_declaration": _define("interface", body="body"),
    "type_alias_declaration": _define("type"),
    "enum_declaration": _define("enum"),
    "function_signature": _define("function"),
    "method_signature": _define("method"),
    "abstract_method_signature": _define("method"),
    "property_signature": _define("field"),
    "public_field_definition": _js_field,
    "internal_module": _define("namespace", body="body"),
    "module": _define("namespace", body="body"),
    "expression_statement": _transparent,
    "ambient_declaration": _transparent,
}
_JS_IDS = "[(identifier) (property_identifier) (shorthand_property_identifier)] @id"
JAVASCRIPT = Rules(_JS_HANDLERS, _JS_IDS)
TYPESCRIPT = Rules(_TS_HANDLERS, _JS_IDS[:-5] + " (type_identifier)] @id")

# Go ---------------------------------------------------------------------------


def _go_type_spec(ex: Extractor, node: Node) -> None:
    type_node = node.child_by_field_name("type")
    t = type_node.type if type_node is not None else ""
    kind = {"struct_type": "struct", "interface_type": "interface"}.get(t, "type")
    parent = node.parent
    single = parent is not None and parent.type == "type_declaration" and (
        parent.named_child_count == 1)
    ex.add(node, node.child_by_field_name("name"), kind, sig_node=parent if single else node)


def _go_spec(kind: str) -> Handler:
    def handler(ex: Extractor, node: Node) -> None:
        for name in node.children_by_field_name("name"):
            ex.add(node, name, kind)

    return handler


def _go_method(ex: Extractor, node: Node) -> None:
    receiver = node.child_by_field_name("receiver")
    recv_type = ""
    if receiver is not None:
        for param in receiver.named_children:
            t = param.child_by_field_name("type")
            if t is not None:
                recv_type = ex.text(t).lstrip("*").split("[")[0].strip()
    ex.add(node, node.child_by_field_name("name"), "method", scope_name=recv_type)


def _go_import(ex: Extractor, node: Node) -> None:
    stack = list(node.named_children)
    while stack:
        n = stack.pop(0)
        if n.type == "import_spec_list":
            stack[:0] = n.named_children
        elif n.type == "import_spec":
            path = ex.text(n.child_by_field_name("path")).strip('"`')
            ex.imports.append(Import(path, alias=ex.text(n.child_by_field_name("name"))))


GO = Rules(
    handlers={
        "function_declaration": _define("function"),
        "method_declaration": _go_method,
        "type_declaration": _transparent,
        "type_spec": _go_type_spec,
        "type_alias": _go_type_spec,
        "const_declaration": _transparent,
        "const_spec": _go_spec("constant"),
        "var_declaration": _transparent,
        "var_spec_list": _transparent,
        "var_spec": _go_spec("variable"),
        "import_declaration": _go_import,
    },
    identifier_query=(
        "[(identifier) (field_identifier) (type_identifier) (package_identifier)] @id"
    ),
)

# Rust -------------------------------------------------------------------------


def _rust_impl(ex: Extractor, node: Node) -> None:
    type_node = node.child_by_field_name("type")
    body = node.child_by_field_name("body")
    if type_node is None or body is None:
        return
    name = ex.text(type_node).split("<")[0].strip()
    ex.in_scope(name, "impl", body)


def _rust_use(ex: Extractor, node: Node) -> None:
    def flatten(n: Node | None, prefix: str) -> None:
        if n is None:
            return
        t = n.type
        if t in ("identifier", "self", "crate", "super"):
            ex.imports.append(Import(prefix, ex.text(n)) if prefix else Import(ex.text(n)))
        elif t == "scoped_identifier":
            path = ex.text(n.child_by_field_name("path"))
            full = f"{prefix}::{path}" if prefix else path
            ex.imports.append(Import(full, ex.text(n.child_by_field_name("name"))))
        elif t == "use_as_clause":
            path = ex.text(n.child_by_field_name("path"))
            module, _, name = (f"{prefix}::{path}" if prefix else path).rpartition("::")
            ex.imports.append(Import(module, name, ex.text(n.child_by_field_name("alias"))))
        elif t == "scoped_use_list":
            path = ex.text(n.child_by_field_name("path"))
            full = f"{prefix}::{path}" if prefix and path else (path or prefix)
            flatten(n.child_by_field_name("list"), full)
        elif t == "use_list":
            for c in n.named_children:
                flatten(c, prefix)
        elif t == "use_wildcard":
            path = ex.text(n).removesuffix("*").rstrip(":")
            ex.imports.append(Import(f"{prefix}::{path}" if prefix else path, "*"))

    flatten(node.child_by_field_name("argument"), "")


RUST = Rules(
    handlers={
        "function_item": _define("function", member_kind="method"),
        "function_signature_item": _define("function", member_kind="method"),
        "struct_item": _define("struct"),
        "union_item": _define("struct"),
        "enum_item": _define("enum"),
        "trait_item": _define("trait", body="body"),
        "impl_item": _rust_impl,
        "const_item": _define("constant"),
        "static_item": _define("variable"),
        "mod_item": _define("module", body="body"),
        "type_item": _define("type"),
        "macro_definition": _define("macro"),
        "use_declaration": _rust_use,
    },
    identifier_query="[(identifier) (field_identifier) (type_identifier)] @id",
)

# Java -------------------------------------------------------------------------


def _java_field(ex: Extractor, node: Node) -> None:
    mods = next((c for c in node.named_children if c.type == "modifiers"), None)
    is_const = mods is not None and "final" in ex.text(mods) and "static" in ex.text(mods)
    for decl in node.children_by_field_name("declarator"):
        name = decl.child_by_field_name("name")
        ex.add(node, name, "constant" if is_const else "field")


def _java_import(ex: Extractor, node: Node) -> None:
    text = ex.text(node).removeprefix("import").strip().rstrip(";").strip()
    text = text.removeprefix("static").strip()
    text = "".join(text.split())
    module, _, name = text.rpartition(".")
    ex.imports.append(Import(module, name) if module else Import(name))


JAVA = Rules(
    handlers={
        "class_declaration": _define("class", body="body"),
        "record_declaration": _define("class", body="body"),
        "interface_declaration": _define("interface", body="body"),
        "annotation_type_declaration": _define("interface"),
        "enum_declaration": _define("enum", body="body"),
        "enum_body_declarations": _transparent,
        "class_body": _transparent,
        "method_declaration": _define("method"),
        "constructor_declaration": _define("constructor"),
        "field_declaration": _java_field,
        "constant_declaration": _java_field,
        "import_declaration": _java_import,
    },
    identifier_query="[(identifier) (type_identifier)] @id",
)

# C / C++ -----------------------------------------------------------------------

_DECLARATOR_LEAVES = frozenset({
    "identifier", "field_identifier", "qualified_identifier", "type_identifier",
    "destructor_name", "operator_name",
})


def _c_declarator_name(node: Node | None) -> tuple[Node | None, bool]:
    """Follow `declarator` fields to the declared name; also report whether it is a function."""
    is_function = False
    while node is not None and node.type not in _DECLARATOR_LEAVES:
        if node.type == "function_declarator":
            is_function = True
        nxt = node.child_by_field_name("declarator")
        if nxt is None:
            nxt = next((c for c in node.named_children if c.type in _DECLARATOR_LEAVES), None)
        node = nxt
    return node, is_function


def _c_add_named(ex: Extractor, node: Node, name: Node, kind: str) -> None:
    if name.type == "qualified_identifier":
        scope = ex.text(name.child_by_field_name("scope"))
        leaf = name
        while leaf.type == "qualified_identifier" and leaf.child_by_field_name("name"):
            inner = leaf.child_by_field_name("name")
            if inner is None or inner.type != "qualified_identifier":
                leaf = inner if inner is not None else leaf
                break
            scope = f"{scope}::{ex.text(inner.child_by_field_name('scope'))}"
            leaf = inner
        scope = scope.replace("::", ".")
        ex.add(node, leaf, "method" if kind == "function" else kind, scope_name=scope)
    else:
        ex.add(node, name, kind)


def _c_function(ex: Extractor, node: Node) -> None:
    name, _ = _c_declarator_name(node.child_by_field_name("declarator"))
    if name is not None:
        _c_add_named(ex, node, name, "method" if ex.in_class else "function")


def _c_declaration(ex: Extractor, node: Node) -> None:
    """Prototypes and globals; struct/enum definitions inside a declaration too."""
    type_node = node.child_by_field_name("type")
    if type_node is not None and type_node.type in _C_TYPE_HANDLERS:
        _C_TYPE_HANDLERS[type_node.type](ex, type_node)
    for decl in node.children_by_field_name("declarator"):
        name, is_function = _c_declarator_name(decl)
        if name is None:
            continue
        if is_function:
            kind = "method" if ex.in_class else "function"
        elif ex.in_class:
            kind = "field"
        else:
            kind = "constant" if _is_constant_name(ex.text(name)) else "variable"
        _c_add_named(ex, node, name, kind)


def _c_tagged(kind: str) -> Handler:
    """struct/union/enum/class specifiers: only those with a body define something."""

    def handler(ex: Extractor, node: Node) -> None:
        body = node.child_by_field_name("body")
        name = node.child_by_field_name("name")
        if body is None or name is None:
            return
        ex.add(node, name, kind, body=body if kind != "enum" else None)

    return handler


def _c_typedef(ex: Extractor, node: Node) -> None:
    type_node = node.child_by_field_name("type")
    if type_node is not None and type_node.type in _C_TYPE_HANDLERS:
        _C_TYPE_HANDLERS[type_node.type](ex, type_node)
    for decl in node.children_by_field_name("declarator"):
        name, _ = _c_declarator_name(decl)
        if name is not None:
            ex.add(node, name, "type")


def _c_include(ex: Extractor, node: Node) -> None:
    path = ex.text(node.child_by_field_name("path")).strip('<>"')
    if path:
        ex.imports.append(Import(path))


_C_TYPE_HANDLERS: dict[str, Handler] = {
    "struct_specifier": _c_tagged("struct"),
    "union_specifier": _c_tagged("struct"),
    "enum_specifier": _c_tagged("enum"),
    "class_specifier": _c_tagged("class"),
}
_C_HANDLERS: dict[str, Handler] = {
    **_C_TYPE_HANDLERS,
    "function_definition": _c_function,
    "declaration": _c_declaration,
    "field_declaration": _c_declaration,
    "type_definition": _c_typedef,
    "preproc_def": lambda ex, n: ex.add(n, n.child_by_field_name("name"), "constant"),
    "preproc_function_def": lambda ex, n: ex.add(n, n.child_by_field_name("name"), "macro"),
    "preproc_include": _c_include,
    **dict.fromkeys(
        ("preproc_if", "preproc_ifdef", "preproc_else", "preproc_elif", "preproc_elifdef",
         "linkage_specification", "declaration_list"),
        _transparent,
    ),
}
C = Rules(_C_HANDLERS, "[(identifier) (field_identifier) (type_identifier)] @id")


def _cpp_namespace(ex: Extractor, node: Node) -> None:
    name = node.child_by_field_name("name")
    body = node.child_by_field_name("body")
    if name is None:  # anonymous namespace: its members are file-level
        if body is not None:
            ex.visit(body)
        return
    ex.add(node, name, "namespace", body=body)


CPP = Rules(
    {
        **_C_HANDLERS,
        "namespace_definition": _cpp_namespace,
        "template_declaration": _transparent,
        "alias_declaration": _define("type"),
    },
    "[(identifier) (field_identifier) (type_identifier) (namespace_identifier)] @id",
)

# C# ------------------------------------------------------------------------------


def _cs_field(ex: Extractor, node: Node) -> None:
    is_const = any(c.type == "modifier" and ex.text(c) == "const" for c in node.named_children)
    for var in node.named_children:
        if var.type != "variable_declaration":
            continue
        for decl in var.named_children:
            if decl.type == "variable_declarator":
                name = decl.child_by_field_name("name") or next(
                    (c for c in decl.named_children if c.type == "identifier"), None)
                ex.add(node, name, "constant" if is_const else "field")


def _cs_using(ex: Extractor, node: Node) -> None:
    alias = node.child_by_field_name("name")
    target = next((c for c in node.named_children if c is not alias and c.type in (
        "identifier", "qualified_name", "generic_name")), None)
    if target is not None:
        ex.imports.append(Import(ex.text(target), alias=ex.text(alias) if alias else ""))


CSHARP = Rules(
    handlers={
        "namespace_declaration": _define("namespace", body="body"),
        "file_scoped_namespace_declaration": _transparent,
        "class_declaration": _define("class", body="body"),
        "record_declaration": _define("class", body="body"),
        "struct_declaration": _define("struct", body="body"),
        "interface_declaration": _define("interface", body="body"),
        "enum_declaration": _define("enum"),
        "method_declaration": _define("method"),
        "constructor_declaration": _define("constructor"),
        "property_declaration": _define("property"),
        "delegate_declaration": _define("type"),
        "field_declaration": _cs_field,
        "using_directive": _cs_using,
        "declaration_list": _transparent,
    },
    identifier_query="(identifier) @id",
)

# Ruby ----------------------------------------------------------------------------


def _rb_body(node: Node) -> Node | None:
    return next((c for c in node.named_children if c.type == "body_statement"), None)


def _rb_container(kind: str) -> Handler:
    def handler(ex: Extractor, node: Node) -> None:
        name = node.child_by_field_name("name")
        if name is not None and name.type == "scope_resolution":
            name = name.child_by_field_name("name") or name
        ex.add(node, name, kind, body=_rb_body(node))

    return handler


def _rb_method(ex: Extractor, node: Node) -> None:
    ex.add(node, node.child_by_field_name("name"), "method" if ex.in_class else "function")


def _rb_assignment(ex: Extractor, node: Node) -> None:
    left = node.child_by_field_name("left")
    if left is not None and left.type == "constant":
        ex.add(node, left, "constant")


def _rb_call(ex: Extractor, node: Node) -> None:
    method = node.child_by_field_name("method")
    if method is None or ex.text(method) not in ("require", "require_relative", "load"):
        return
    args = node.child_by_field_name("arguments")
    for arg in args.named_children if args is not None else ():
        if arg.type == "string":
            ex.imports.append(Import(ex.text(arg).strip("'\"")))


RUBY = Rules(
    handlers={
        "module": _rb_container("module"),
        "class": _rb_container("class"),
        "method": _rb_method,
        "singleton_method": _rb_method,
        "assignment": _rb_assignment,
        "call": _rb_call,
        "body_statement": _transparent,
    },
    identifier_query="[(identifier) (constant)] @id",
)

# PHP -------------------------------------------------------------------------------


def _php_namespace(ex: Extractor, node: Node) -> None:
    ex.add(node, node.child_by_field_name("name"), "namespace",
           body=node.child_by_field_name("body"))


def _php_const(ex: Extractor, node: Node) -> None:
    for el in node.named_children:
        if el.type == "const_element":
            name = next((c for c in el.named_children if c.type == "name"), None)
            ex.add(node, name, "constant")


def _php_property(ex: Extractor, node: Node) -> None:
    for el in node.named_children:
        if el.type == "property_element":
            name = el.child_by_field_name("name") or (
                el.named_children[0] if el.named_child_count else None)
            if name is not None:
                ex.add(node, name, "field", display=ex.text(name).lstrip("$"))


def _php_use(ex: Extractor, node: Node) -> None:
    for clause in node.named_children:
        if clause.type != "namespace_use_clause":
            continue
        alias = clause.child_by_field_name("alias")
        target = next((c for c in clause.named_children
                       if c.type in ("qualified_name", "name") and c is not alias), None)
        if target is None:
            continue
        module, _, name = ex.text(target).lstrip("\\").rpartition("\\")
        ex.imports.append(Import(module, name, ex.text(alias) if alias else ""))


PHP = Rules(
    handlers={
        "namespace_definition": _php_namespace,
        "class_declaration": _define("class", body="body"),
        "interface_declaration": _define("interface", body="body"),
        "trait_declaration": _define("trait", body="body"),
        "enum_declaration": _define("enum"),
        "method_declaration": _define("method"),
        "function_definition": _define("function"),
        "const_declaration": _php_const,
        "property_declaration": _php_property,
        "namespace_use_declaration": _php_use,
        "declaration_list": _transparent,
        "compound_statement": _transparent,
    },
    identifier_query="(name) @id",
)

# tree-sitter wraps what it could not parse in ERROR nodes; definitions inside them (a file
# being edited, a header in the other C dialect) are still worth finding.
for _rules in (PYTHON, JAVASCRIPT, TYPESCRIPT, GO, RUST, JAVA, C, CPP, CSHARP, RUBY, PHP):
    _rules.handlers.setdefault("ERROR", _transparent)

RULES: dict[str, Rules] = {
    "python": PYTHON, "javascript": JAVASCRIPT, "typescript": TYPESCRIPT, "tsx": TYPESCRIPT,
    "go": GO, "rust": RUST, "java": JAVA, "c": C, "cpp": CPP, "csharp": CSHARP, "ruby": RUBY,
    "php": PHP,
}
