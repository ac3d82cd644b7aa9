"""Context for a cursor: the definitions the next line needs, ordered for KV-cache reuse,
never from excluded files."""

from __future__ import annotations

import pytest

from indexer.context import estimate_tokens, gather_context
from indexer.ignore import ContextPolicy
from indexer.privacy import AI_IGNORE_FILE
from indexer.workspace import WorkspaceIndex

from .conftest import write_tree

SECRET = "sk-live-0123456789abcdef"

FILES = {
    "shop/pricing.py": (
        "TAX_RATE = 0.2\n\n\n"
        "def apply_discount(price: float, percent: float) -> float:\n"
        '    """Price after a percentage discount."""\n'
        "    return price * (1 - percent / 100)\n\n\n"
        "class Cart:\n"
        '    """A shopping cart."""\n\n'
        "    def __init__(self):\n"
        "        self.items = []\n\n"
        "    def add_item(self, name: str, price: float) -> None:\n"
        "        self.items.append((name, price))\n\n"
        "    def total(self) -> float:\n"
        "        return sum(p for _, p in self.items)\n"
    ),
    "shop/internal.py": f"def internal_helper():\n    return '{SECRET}'\n",
    "shop/checkout.py": (
        "from shop.pricing import apply_discount, Cart\n\n\n"
        "def checkout(cart: Cart, code: str) -> float:\n"
        "    subtotal = cart.total()\n"
        "    discounted = apply_discount(\n"
    ),
    ".env": f"API_KEY={SECRET}\n",
    AI_IGNORE_FILE: "shop/internal.py\n",
}


def _built(tmp_path, files):
    idx = WorkspaceIndex(write_tree(tmp_path / "ws", files))
    idx.build()
    return idx


@pytest.fixture
def index(tmp_path):
    idx = _built(tmp_path, FILES)
    yield idx
    idx.close()


def _cursor_at_end(text: str) -> tuple[int, int]:
    lines = text.split("\n")
    return len(lines) - 1, len(lines[-1])


def test_definition_needed_by_the_next_line_is_in_the_context(index):
    text = FILES["shop/checkout.py"]
    line, col = 5, len("    discounted = apply_discount(")
    chunks = gather_context(index, str(index.root / "shop/checkout.py"), text, line, col)
    defs = [c for c in chunks if c.kind == "definition"]
    assert [c.path for c in defs] == ["shop/pricing.py"]
    body = defs[0].text
    assert "def apply_discount(price: float, percent: float) -> float:" in body
    assert "class Cart:" in body and "def total(self) -> float:" in body


def test_order_is_stable_first_volatile_last(index):
    recent = [
        (str(index.root / "shop/notes.py"),
         "def checkout_flow(cart):\n    subtotal = cart.total()\n    return subtotal\n"),
    ]
    text = FILES["shop/checkout.py"]
    chunks = gather_context(index, "shop/checkout.py", text, 5, 10, recent=recent)
    kinds = [c.kind for c in chunks]
    assert kinds == sorted(kinds, key=["definition", "scope", "snippet"].index)
    assert kinds[-1] == "snippet" and chunks[-1].path == "shop/notes.py"
    again = gather_context(index, "shop/checkout.py", text, 5, 10, recent=recent)
    assert again == chunks  # deterministic: same input, same prefix for the KV cache


def test_budget_is_respected(index):
    text = FILES["shop/checkout.py"]
    for budget in (0, 20, 60, 400):
        chunks = gather_context(index, "shop/checkout.py", text, 5, 10, budget_tokens=budget)
        assert sum(estimate_tokens(c.text) for c in chunks) <= budget


def test_secret_and_ignored_files_never_appear(index):
    root = index.root
    # The ignored file is indexed for symbols, but its content is excluded from context.
    assert index.workspace_symbols("internal_helper")
    text = "from shop.internal import internal_helper\n\nvalue = internal_helper(\n"
    recent = [
        (str(root / ".env"), (root / ".env").read_text()),
        (str(root / "shop/internal.py"), FILES["shop/internal.py"]),
        (str(root / "id_rsa"), f"value = internal_helper({SECRET})\n"),
    ]
    line, col = _cursor_at_end(text.rstrip("\n"))
    chunks = gather_context(index, "main.py", text, line, col, recent=recent)
    assert all(SECRET not in c.text for c in chunks)
    assert all(c.path not in (".env", "shop/internal.py", "id_rsa") for c in chunks)


def test_without_an_index_snippets_still_come_from_recent_files(tmp_path):
    write_tree(tmp_path, {".gitignore": "private.py\n"})
    recent = [
        ("lib/util.py", "def render_table(rows):\n    for row in rows:\n        print(row)\n"),
        ("private.py", "def render_table(rows):\n    for row in rows:\n        leak(row)\n"),
    ]
    text = "rows = load()\nfor row in rows:\n    "
    policy = ContextPolicy(tmp_path)
    chunks = gather_context(None, "main.py", text, 2, 4, recent=recent, policy=policy)
    assert [(c.kind, c.path) for c in chunks] == [("snippet", "lib/util.py")]


def test_enclosing_scope_far_above_is_included(index):
    body = "\n".join(f"        step_{i} = {i}" for i in range(60))
    text = f"class Runner:\n    def run(self):\n{body}\n        "
    line, col = _cursor_at_end(text)
    chunks = gather_context(index, "runner.py", text, line, col)
    scope = [c for c in chunks if c.kind == "scope"]
    assert scope and scope[0].text == "class Runner:\n    def run(self):"
    near = "class Runner:\n    def run(self):\n        x = 1\n        "
    line, col = _cursor_at_end(near)
    assert not [c for c in gather_context(index, "runner.py", near, line, col)
                if c.kind == "scope"]


def test_bad_positions_do_not_crash(index):
    assert isinstance(gather_context(index, "x.py", "", 99, 99), list)
    assert isinstance(gather_context(index, "notes.txt", "hello", 0, 5), list)


def test_module_qualified_names_resolve_to_that_module(tmp_path):
    root = write_tree(tmp_path / "ws", {
        "shop/pricing.py": "def apply_discount(price, percent):\n    return price\n",
        "legacy/pricing_v1.py": "def apply_discount(price):\n    return 0\n",
        "main.py": "import shop.pricing as pr\n\ntotal = pr.apply_discount(\n",
    })
    with WorkspaceIndex(root) as idx:
        idx.build()
        text = (root / "main.py").read_text()
        chunks = gather_context(idx, "main.py", text, 2, len("total = pr.apply_discount("))
        assert [c.path for c in chunks if c.kind == "definition"] == ["shop/pricing.py"]
        # An attribute of an unknown object is not guessed.
        text2 = "def f(obj):\n    return obj.apply_discount(\n"
        chunks = gather_context(idx, "other.py", text2, 1, len("    return obj.apply_discount("))
        assert not [c for c in chunks if c.kind == "definition"]


def test_same_package_names_without_imports(tmp_path):
    root = write_tree(tmp_path / "ws", {
        "util.go": "package main\n\n// Clamp limits x.\nfunc Clamp(x, lo, hi int) int {\n"
                   "\treturn x\n}\n",
        "main.go": "package main\n\nfunc main() {\n\tv := Clamp(\n}\n",
    })
    with WorkspaceIndex(root) as idx:
        idx.build()
        text = (root / "main.go").read_text()
        chunks = gather_context(idx, "main.go", text, 3, len("\tv := Clamp("))
        assert chunks[0].path == "util.go"
        assert "func Clamp(x, lo, hi int) int {" in chunks[0].text


def test_an_import_not_used_yet_wins_the_budget_over_ones_used_far_away(tmp_path):
    """The next line is likely to use what was imported but not used so far."""
    helpers = {f"lib/h{i}.py": f"def helper_{i}(value):\n    return value + {i}\n" + "#\n" * 3
               for i in range(6)}
    imports = "".join(f"from lib.h{i} import helper_{i}\n" for i in range(6))
    # helpers 0-4 are used far above the cursor; helper_5 only appears in its import
    body = "".join(f"a{i} = helper_{i}(1)\n" for i in range(5)) + "\n" * 40
    main = imports + body + "result = "
    root = write_tree(tmp_path / "ws", {**helpers, "main.py": main})
    with WorkspaceIndex(root) as idx:
        idx.build()
        line, col = _cursor_at_end(main)
        one_def = estimate_tokens(helpers["lib/h5.py"]) + 8
        chunks = gather_context(idx, "main.py", main, line, col, budget_tokens=one_def + 4)
        assert [c.path for c in chunks if c.kind == "definition"] == ["lib/h5.py"]


# -- outlines of what the cursor is a member of ---------------------------------------------

OUTLINE_FILES = {
    "app/shapes.py": (
        "PI = 3.14159\n\n\n"
        + "".join(f"def helper_{i}(x):\n    return x + {i}\n\n\n" for i in range(40))
        + "def render_circle(canvas, radius: float) -> None:\n    canvas.draw(radius)\n\n\n"
        + "".join(f"class {n}(Shape):\n    pass\n\n\n" for n in ("Square", "Disc"))
        + "class Shape:\n    pass\n\n\n"
        "class Palette:\n"
        "    RED = 1\n"
        "    GREEN = 2\n\n"
        "    def __init__(self):\n        self.colors = []\n\n"
        "    def mix(self, other: 'Palette') -> 'Palette':\n        return self\n\n"
        "    def _cache(self):\n        return None\n"
    ),
    "main.py": "from app import shapes\nfrom app.shapes import Palette\n\n",
    "app/render.py": (
        "from app import shapes\n\n\n"
        "def draw_all(canvas, sizes):\n"
        "    for size in sizes:\n"
        "        shapes.render_circle(canvas, size * 2)\n"
        "    return canvas\n"
    ),
    "app/unrelated.py": "def draw_all(canvas, sizes):\n    for size in sizes:\n        pass\n",
}


@pytest.fixture
def outline_index(tmp_path):
    idx = _built(tmp_path, OUTLINE_FILES)
    yield idx
    idx.close()


def _context_after(idx, typed: str, **kwargs):
    text = OUTLINE_FILES["main.py"] + typed
    line, col = _cursor_at_end(text)
    return gather_context(idx, "main.py", text, line, col, **kwargs)


def _outline(chunks):
    return next(c for c in chunks if c.kind == "outline")


def test_after_a_module_dot_its_members_are_outlined(outline_index):
    chunks = _context_after(outline_index, "def draw(canvas):\n    shapes.")
    outline = _outline(chunks)
    assert chunks.index(outline) >= len(chunks) - 2  # near the code, before other files' uses
    assert outline.path == "app/shapes.py"
    lines = outline.text.split("\n")
    assert "def render_circle(canvas, radius: float) -> None" in lines
    assert "class Palette" in lines and "PI = 3.14159" in lines
    assert "    def mix(self, other: 'Palette') -> 'Palette'" not in lines  # members only


def test_the_outline_keeps_what_the_code_near_the_cursor_suggests(outline_index):
    """43 members do not fit a small budget: the one whose name shares words with the
    code around the cursor (`circle`, `radius`) does."""
    typed = "def draw_circle(canvas, radius):\n    shapes."
    outline = _outline(_context_after(outline_index, typed, budget_tokens=120)).text
    assert "def render_circle(canvas, radius: float) -> None" in outline
    assert "def helper_39(x)" not in outline
    # Typing the member's name changes nothing (the model's KV cache stays valid).
    assert _context_after(outline_index, typed + "ren", budget_tokens=120) == \
        _context_after(outline_index, typed, budget_tokens=120)


def test_where_a_type_is_expected_classes_come_first_the_most_named_first(outline_index):
    away = "pass\n" * 6  # the imports are not "near" the cursor
    outline = _outline(_context_after(outline_index, away + "class Mine(shapes.",
                                      budget_tokens=40))
    # Shape is named by two other members' signatures; then file order among classes.
    assert outline.text == "class Square(Shape)\nclass Shape"
    outline = _outline(_context_after(outline_index, away + "x = shapes.", budget_tokens=40))
    assert outline.text == "PI = 3.14159\nclass Shape"  # no type expected: file order
    # What the file already uses is shown by the file itself: it goes last.
    outline = _outline(_context_after(outline_index, "r = shapes.PI\n" + away + "x = shapes.",
                                      budget_tokens=40))
    assert outline.text == "def helper_0(x)\nclass Shape"


def test_other_files_show_how_they_use_the_module(outline_index):
    """After `shapes.`, the window of a file that imports shapes and looks most like the code
    above the cursor comes as a snippet, ending at its use; a file that does not import the
    module does not, however similar."""
    typed = "def draw_all(canvas, sizes):\n    for size in sizes:\n        shapes."
    chunks = _context_after(outline_index, typed)
    assert chunks[-1].kind == "usage" and chunks[-1].path == "app/render.py"  # nearest the code
    assert chunks[-1].text.endswith("        shapes.render_circle(canvas, size * 2)")
    assert all(c.path != "app/unrelated.py" for c in chunks)
    # Excluded from context: never read for examples either.
    (outline_index.root / ".gitignore").write_text("app/render.py\n")
    text = OUTLINE_FILES["main.py"] + typed
    line, col = _cursor_at_end(text)
    chunks = gather_context(outline_index, "main.py", text, line, col,
                            policy=ContextPolicy(outline_index.root))
    assert [c for c in chunks if c.kind == "usage"] == []


def test_after_a_class_dot_its_members_are_outlined_once(outline_index):
    chunks = _context_after(outline_index, "p = Palette.")
    assert _outline(chunks).text.split("\n") == [
        "class Palette", "    RED = 1", "    GREEN = 2", "    def __init__(self)",
        "    def mix(self, other: 'Palette') -> 'Palette'", "    def _cache(self)",
    ]
    assert sum("class Palette" in c.text for c in chunks) == 1  # not also as a definition


def test_no_outline_for_unknown_objects_or_excluded_files(outline_index):
    for typed in ("def f(obj):\n    obj.", "x = shapes_cache."):
        assert all(c.kind != "outline" for c in _context_after(outline_index, typed))
    text = OUTLINE_FILES["main.py"] + "shapes."
    line, col = _cursor_at_end(text)
    before = gather_context(outline_index, "main.py", text, line, col,
                            policy=ContextPolicy(outline_index.root))
    assert {(c.kind, c.path) for c in before if c.path == "app/shapes.py"} == {
        ("definition", "app/shapes.py"), ("outline", "app/shapes.py")}
    (outline_index.root / ".gitignore").write_text("app/shapes.py\n")
    after = gather_context(outline_index, "main.py", text, line, col,
                           policy=ContextPolicy(outline_index.root))
    assert after == []
