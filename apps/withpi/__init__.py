"""withpi-compatible data generation: `POST /v1/data/generate`, input-response pairs and
their job endpoints and streams, mapped onto specs, runs and datasets."""
