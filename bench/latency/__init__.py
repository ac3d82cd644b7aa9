"""Latency benchmark: real typing replayed through our server and llama.cpp's llama-server."""
