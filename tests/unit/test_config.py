"""Typed configuration: defaults, the user file, editor layers, and every kind of bad value."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import pytest

from lsp_server.config import SECTION, Config, build_config

SECRET = "sk-test-0123456789abcdef"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No real user config file and no real API keys reach these tests."""
    monkeypatch.setenv("LSP_SERVER_CONFIG_DIR", str(tmp_path / "config-dir"))
    for var in ("OPENAI_API_KEY", "MISTRAL_API_KEY", "MY_KEY"):
        monkeypatch.delenv(var, raising=False)


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "absent.toml"


def test_defaults(tmp_path: Path) -> None:
    cfg, warnings = build_config(user_file=_missing(tmp_path))
    assert warnings == []
    assert cfg == Config()
    assert cfg.completion.enabled and cfg.local.enabled
    assert cfg.completion.debounce_ms == -1  # adaptive
    assert cfg.local.model_path == "" and cfg.local.context_size == 4096
    assert cfg.remote.enabled is False and cfg.remote.api_key == ""
    assert cfg.log_level == "info"


def test_default_user_file_location_is_read(tmp_path: Path) -> None:
    config_dir = tmp_path / "config-dir"
    config_dir.mkdir()
    (config_dir / "config.toml").write_text("[local]\nthreads = 3\n", encoding="utf-8")
    cfg, warnings = build_config()
    assert warnings == [] and cfg.local.threads == 3


def test_user_file_values_are_applied(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        """
log_level = "debug"

[local]
model_path = "/models/coder.gguf"
threads = 4
gpu_layers = 0
context_size = 8192
max_tokens = 32

[completion]
debounce_ms = 75
enabled = false

[context]
exclude = ["*.min.js", "vendor/"]
""",
    )
    cfg, warnings = build_config(user_file=path)
    assert warnings == []
    assert cfg.local.model_path == "/models/coder.gguf"
    assert (cfg.local.threads, cfg.local.gpu_layers, cfg.local.context_size) == (4, 0, 8192)
    assert cfg.local.max_tokens == 32
    assert cfg.completion.debounce_ms == 75 and cfg.completion.enabled is False
    assert cfg.context.exclude == ["*.min.js", "vendor/"]
    assert cfg.log_level == "debug"
    # Untouched settings keep their defaults.
    assert cfg.local.max_tokens_multiline == Config().local.max_tokens_multiline


def test_layers_override_the_file_in_order(tmp_path: Path) -> None:
    path = _file(
        tmp_path, '[local]\nmodel_path = "/from/file.gguf"\nthreads = 4\nmax_tokens = 10\n'
    )
    cfg, warnings = build_config(
        ("initializationOptions", {"local": {"threads": 2, "max_tokens": 20}}),
        ("workspace/configuration", {"local": {"max_tokens": 30}}),
        user_file=path,
    )
    assert warnings == []
    assert cfg.local.model_path == "/from/file.gguf"
    assert cfg.local.threads == 2
    assert cfg.local.max_tokens == 30


def test_camel_case_keys(tmp_path: Path) -> None:
    cfg, warnings = build_config(
        (
            "initializationOptions",
            {
                "local": {"modelPath": "x", "maxTokensMultiline": 100, "gpuLayers": 0},
                "completion": {"debounceMs": 10, "maxCharsRight": 3},
                "logLevel": "debug",
            },
        ),
        user_file=_missing(tmp_path),
    )
    assert warnings == []
    assert cfg.local.model_path == "x"
    assert cfg.local.max_tokens_multiline == 100 and cfg.local.gpu_layers == 0
    assert cfg.completion.debounce_ms == 10 and cfg.completion.max_chars_right == 3
    assert cfg.log_level == "debug"


def test_settings_under_the_section(tmp_path: Path) -> None:
    assert SECTION == "lspServer"
    cfg, warnings = build_config(
        ("workspace/configuration", {"lspServer": {"local": {"threads": 3}}}),
        user_file=_file(tmp_path, "[lspServer.completion]\ndebounce_ms = 40\n"),
    )
    assert warnings == []
    assert cfg.local.threads == 3
    assert cfg.completion.debounce_ms == 40


@pytest.mark.parametrize(
    ("layer", "where"),
    [
        ({"local": {"threads": "many"}}, "local.threads"),
        ({"local": {"threads": 2.5}}, "local.threads"),
        ({"local": {"threads": True}}, "local.threads"),
        ({"local": {"enabled": "yes"}}, "local.enabled"),
        ({"local": {"enabled": 1}}, "local.enabled"),
        ({"local": {"model_path": 42}}, "local.model_path"),
        ({"router": {"min_mean_logprob": "low"}}, "router.min_mean_logprob"),
        ({"context": {"exclude": "*.js"}}, "context.exclude"),
        ({"context": {"exclude": ["ok", 3]}}, "context.exclude"),
        ({"local": 5}, "local"),
        ({"local": {"modelPath": None}}, "local.model_path"),
    ],
)
def test_invalid_type_warns_and_keeps_the_default(tmp_path: Path, layer, where: str) -> None:
    cfg, warnings = build_config(("initializationOptions", layer), user_file=_missing(tmp_path))
    assert cfg == Config()
    assert len(warnings) == 1 and warnings[0].startswith(where + ":")


def test_invalid_value_keeps_the_previous_layer(tmp_path: Path) -> None:
    cfg, warnings = build_config(
        ("initializationOptions", {"local": {"threads": "many"}}),
        user_file=_file(tmp_path, "[local]\nthreads = 4\n"),
    )
    assert cfg.local.threads == 4
    assert len(warnings) == 1


@pytest.mark.parametrize(
    ("layer", "section", "key", "value"),
    [
        ({"local": {"threads": "6"}}, "local", "threads", 6),
        ({"local": {"threads": 6.0}}, "local", "threads", 6),
        ({"router": {"min_mean_logprob": -2}}, "router", "min_mean_logprob", -2.0),
    ],
)
def test_lossless_conversions_are_accepted(tmp_path: Path, layer, section, key, value) -> None:
    cfg, warnings = build_config(("initializationOptions", layer), user_file=_missing(tmp_path))
    assert warnings == []
    got = getattr(getattr(cfg, section), key)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [
        ("local", "context_size", 10),
        ("local", "threads", -3),
        ("local", "max_tokens", 0),
        ("local", "gpu_layers", -2),
        ("completion", "debounce_ms", 99999),
        ("context", "budget_tokens", -1),
        ("router", "strategy", "fastest"),
        ("remote", "provider", "acme"),
    ],
)
def test_out_of_range_warns_and_uses_the_default(tmp_path: Path, section, key, value) -> None:
    cfg, warnings = build_config(
        ("initializationOptions", {section: {key: value}}), user_file=_missing(tmp_path)
    )
    assert getattr(getattr(cfg, section), key) == getattr(getattr(Config(), section), key)
    assert len(warnings) == 1 and warnings[0].startswith(f"{section}.{key}:")
    assert "out of range" in warnings[0]


def test_invalid_log_level(tmp_path: Path) -> None:
    cfg, warnings = build_config(
        ("initializationOptions", {"logLevel": "loud"}), user_file=_missing(tmp_path)
    )
    assert cfg.log_level == "info" and len(warnings) == 1 and "log_level" in warnings[0]


def test_unknown_keys_warn(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lsp_server.config"):
        cfg, warnings = build_config(
            ("initializationOptions", {"local": {"modelPth": "x"}, "colour": "red"}),
            user_file=_missing(tmp_path),
        )
    assert cfg == Config()
    assert sorted(w.split(":")[0] for w in warnings) == ["colour", "local.model_pth"]
    assert all("unknown setting" in w and "initializationOptions" in w for w in warnings)
    assert "local.model_pth" in caplog.text  # warnings also reach the log


def test_layer_that_is_not_an_object_warns(tmp_path: Path) -> None:
    cfg, warnings = build_config(
        ("initializationOptions", ["local"]),
        ("workspace/configuration", None),
        user_file=_missing(tmp_path),
    )
    assert cfg == Config()
    assert len(warnings) == 1 and warnings[0].startswith("initializationOptions:")


@pytest.mark.parametrize("source", ["initializationOptions", "workspace/configuration"])
@pytest.mark.parametrize("key", ["api_key", "apiKey"])
def test_api_key_is_never_taken_from_the_editor(tmp_path: Path, source: str, key: str) -> None:
    cfg, warnings = build_config(
        (source, {"remote": {key: SECRET, "apiKeyEnv": "MY_KEY"}}), user_file=_missing(tmp_path)
    )
    assert cfg.remote.api_key == "" and cfg.remote.api_key_env == ""
    assert len(warnings) == 2 and all("ignored" in w for w in warnings)
    assert not any(SECRET in w for w in warnings)


def test_api_key_from_the_user_file(tmp_path: Path) -> None:
    path = _file(
        tmp_path, f'[remote]\nenabled = true\nprovider = "mistral"\napi_key = "{SECRET}"\n'
    )
    cfg, warnings = build_config(user_file=path)
    assert warnings == []
    assert cfg.remote.enabled and cfg.remote.provider == "mistral"
    assert cfg.remote.api_key == SECRET
    assert SECRET not in repr(cfg)
    # An editor layer cannot replace it either.
    editor = {"remote": {"api_key": "other"}}
    cfg, _ = build_config(("initializationOptions", editor), user_file=path)
    assert cfg.remote.api_key == SECRET


@pytest.mark.parametrize(
    ("file", "env", "expected"),
    [
        ("", {"OPENAI_API_KEY": "k-openai"}, "k-openai"),  # default provider: openai
        ('[remote]\nprovider = "mistral"\n', {"MISTRAL_API_KEY": "k-m"}, "k-m"),
        ('[remote]\nprovider = "mistral"\n', {"OPENAI_API_KEY": "k-openai"}, ""),
        ('[remote]\napi_key_env = "MY_KEY"\n', {"MY_KEY": "k-me", "OPENAI_API_KEY": "x"}, "k-me"),
        ('[remote]\napi_key = "k-file"\n', {"OPENAI_API_KEY": "k-env"}, "k-file"),
        ('[remote]\nprovider = "llamacpp"\n', {"OPENAI_API_KEY": "k-openai"}, ""),
    ],
)
def test_api_key_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, file: str, env: dict, expected: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cfg, warnings = build_config(user_file=_file(tmp_path, file))
    assert warnings == []
    assert cfg.remote.api_key == expected


@pytest.mark.parametrize(
    "text",
    [
        "[local\nthreads = 4\n",
        "threads = = 4\n",
        "[local]\nthreads = 4\nthreads = 5\n",
        "\x00\x01binary",
    ],
)
def test_broken_toml_file_warns_and_uses_defaults(tmp_path: Path, text: str) -> None:
    path = _file(tmp_path, text)
    cfg, warnings = build_config(user_file=path)
    assert cfg == Config()
    assert len(warnings) == 1 and str(path) in warnings[0]


def test_unreadable_user_file_warns(tmp_path: Path) -> None:
    path = tmp_path / "dir.toml"
    path.mkdir()
    cfg, warnings = build_config(
        ("initializationOptions", {"local": {"threads": 2}}), user_file=path
    )
    assert cfg.local.threads == 2  # the other layers still apply
    assert len(warnings) == 1 and str(path) in warnings[0]


def test_every_setting_has_a_default_and_a_known_type() -> None:
    """Each leaf setting is one of the types the loader can check, so none is unsettable."""
    allowed = {bool, int, float, str, list}
    cfg = Config()
    for section in dataclasses.fields(cfg):
        value = getattr(cfg, section.name)
        leaves = dataclasses.asdict(value) if dataclasses.is_dataclass(value) else {"": value}
        for key, leaf in leaves.items():
            assert type(leaf) in allowed, f"{section.name}.{key}"
