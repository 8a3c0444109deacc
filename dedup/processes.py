"""Worker processes: forked, so they see the parent's state without pickling it."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor


def fork_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` forked processes: they see the parent's state as it was when
    they start, without pickling it."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
