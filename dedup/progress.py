"""Progress for long stages: a bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")
log = logging.getLogger("dedup")

LOG_EVERY_SECONDS = 10.0


def progress(items: Iterable[T], total: int | None, desc: str) -> Iterator[T]:
    """``items``, showing progress; ``total`` None when the count is not known ahead."""
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, desc=desc, unit="doc", leave=False, file=sys.stderr)
        return
    started = last = time.monotonic()
    for done, item in enumerate(items, 1):
        yield item
        now = time.monotonic()
        if now - last >= LOG_EVERY_SECONDS:
            last = now
            rate = done / max(now - started, 1e-9)
            if total is None:
                log.info("%s: %d (%.0f/s)", desc, done, rate)
            else:
                log.info("%s: %d/%d (%.0f%%, %.0f/s)", desc, done, total, 100.0 * done / max(total, 1), rate)
