"""Fake LLM providers on loopback that speak the real wire protocols (HTTP, SSE).

Kept free of imports: the servers also run as `python -m tests.fakes.openai_server`.
"""
