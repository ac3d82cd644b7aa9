"""The remote tier: HTTP providers (Mistral, OpenAI-compatible, llama.cpp server) behind `Tier`."""
