"""Worker processes (forked, so they see the parent's state without pickling it) and the
process-wide settings a run works under."""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

# The cyclic collector's thresholds during a run. Python's default (700, 10, 10) collects the
# young generation every 700 net new containers; a run allocates tens of millions (tokens'
# tuples, per-sentence caches, records), and at 10k articles that was 1,071 young and 7 full
# collections, 1.3 s of 23 s on one core. At these, 15 young and no full collection, 0.4 s.
# Run objects are freed by reference counting, not by the collector; cycles (few) wait longer.
RUN_GC_THRESHOLDS = (50_000, 20, 100)


def fork_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` forked processes: they see the parent's state as it was when
    they start, without pickling it."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))


@contextmanager
def run_collection_thresholds() -> Iterator[None]:
    """The cyclic collector at RUN_GC_THRESHOLDS inside the block (forked workers inherit
    them), the caller's thresholds restored after."""
    before = gc.get_threshold()
    gc.set_threshold(*RUN_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
