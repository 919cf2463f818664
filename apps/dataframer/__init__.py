"""Dataframer-compatible API (`/api/dataframer/...`, what pydataframer calls): seed datasets,
specs generated from seeds, runs and their files."""
