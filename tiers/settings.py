"""Typed settings of the tiers, with defaults. The server fills them from its configuration."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LocalSettings:
    enabled: bool = True
    model_path: str = ""  # a GGUF file; wins over `model`
    model: str = ""  # a registry id (`lsp-server models use ID`); "" = the default model
    family: str = ""  # FIM template override ("qwen", "mistral", ...); "" = detect from the GGUF
    threads: int = 0  # 0 = physical cores, at most 8
    gpu_layers: int = -1  # -1 = all layers when a GPU backend is present and the model fits
    context_size: int = 4096
    max_tokens: int = 64  # for single-line answers; multi-line answers may use more
    max_tokens_multiline: int = 256
    time_budget_ms: int = 1500  # after it, stop at the next line end
    prefix_lines: int = 64  # lines before the cursor in the prompt window
    suffix_lines: int = 16  # lines after the cursor
    # The line being typed (and the lines since the last multiple of this) go after the FIM
    # middle marker, so a keystroke appends to the prompt instead of changing what comes before
    # the suffix; 0 = all of the prefix before the suffix. Applies when the cursor line has
    # text (a blank line keeps the classic layout, which shares its prefix with the next
    # keystrokes when this is 1).
    middle_lines: int = 1


@dataclass
class RemoteSettings:
    enabled: bool = False
    provider: str = "openai"  # "mistral", "openai" (OpenAI-compatible), "llamacpp" (/infill)
    base_url: str = ""
    model: str = ""
    # Names of the environment variable holding the key; the key itself may also come from the
    # user's own config file, never from workspace settings.
    api_key_env: str = ""
    api_key: str = field(default="", repr=False)
    endpoint: str = "fim"  # "fim" (Mistral FIM / completions with suffix / infill) or "chat"
    inline_timeout_ms: int = 1500
    edit_timeout_ms: int = 30000
    max_response_bytes: int = 1_000_000
    # FIM template family for OpenAI-compatible /v1/completions servers without working `suffix`
    # support ("qwen", "starcoder", ...): the prompt is rendered with its control tokens.
    family: str = ""
    temperature: float = 0.0
    stream: bool = True  # stream replies, so a finished line or block ends the request early
    connect_timeout_ms: int = 3000
    edit_retries: int = 2  # inline requests are never retried
    backoff_ms: int = 500  # first retry delay of an edit, doubled each time
    max_retry_after_ms: int = 10000  # longest Retry-After honoured
    circuit_failures: int = 3  # consecutive failures that open the circuit
    circuit_cooldown_ms: int = 30000
    offline_after: int = 3  # consecutive connection failures that switch to offline
    probe_interval_ms: int = 30000  # while offline (auto): how often a quiet probe runs


@dataclass
class RouterSettings:
    strategy: str = "auto"  # "local-only", "auto", "remote-preferred"
    offline: bool = False
    min_mean_logprob: float = -1.5  # below it a local answer counts as unconfident
    # Head start of the remote before the local tier is started as a fallback (hedged request).
    hedge_ms: int = 150
    # Longest an inline request waits for the remote before the local answer is used.
    remote_wait_ms: int = 1500
