"""The inference gateway: native `/inference`, OpenAI- and Anthropic-compatible APIs.

Async Django views (no DRF, which is sync): see calls.py for what every call does.
"""
