"""Collinear-compatible synthetic data: `POST /api/v1/synth_data/generate`, a streamed fan-out
of example rows run as an ordinary run."""
