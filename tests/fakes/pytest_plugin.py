"""Fixtures for the fake LLM providers (filled in with the fakes)."""
