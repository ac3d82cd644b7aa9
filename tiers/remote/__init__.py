"""The remote tier: HTTP providers (Mistral, OpenAI-compatible, llama.cpp server) behind `Tier`."""

from tiers.remote.health import RemoteHealth
from tiers.remote.providers import PROVIDERS, make_provider
from tiers.remote.tier import PathPolicy, RemoteTier, SecretNamePolicy

__all__ = [
    "PROVIDERS",
    "PathPolicy",
    "RemoteHealth",
    "RemoteTier",
    "SecretNamePolicy",
    "make_provider",
]
