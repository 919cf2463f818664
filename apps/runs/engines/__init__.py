"""Where a run's samples come from: one engine per `Run.engine`.

Every engine runs as the same short step (apps/core/jobs.py): the run is claimed, the
engine's `step()` does one bounded piece of work and commits its samples, counters,
events and its own state (`Run.state`) with the next checkpoint, and returns an `Outcome`.
Each engine declares its settings once, as a dataclass of `option()` fields; the run form,
the runs API and the run page derive from it.
"""
