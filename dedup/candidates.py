"""Candidates: pairs of documents that share an LSH bucket in at least one view.

Banding follows datasketch's MinHashLSH (band i = hash values ``i*rows .. (i+1)*rows``, same
buckets), but is computed for the whole batch at once: sort each band's keys with numpy and
pair the documents of each bucket. That is several times faster than inserting and querying
LeanMinHash objects one by one, and proposes exactly the same pairs. No pair is ever compared
unless its signatures collide.
"""

from __future__ import annotations

import numpy as np

from dedup.config import LSHView, MinHashOptions


def bucket_pairs(signatures: np.ndarray, bands: int, rows: int, max_bucket: int) -> np.ndarray:
    """Codes ``i * n + j`` (``i < j``) of the document pairs sharing a bucket in any band.

    Buckets above ``max_bucket`` documents are skipped: a band whose minimum is a word thousands
    of articles share says nothing about any one pair, and its pairs grow quadratically.
    """
    n = len(signatures)
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    # One row per (band, document): the band number, then the band's hash values.
    keys = np.concatenate(
        [
            np.repeat(np.arange(bands), n)[:, None],
            signatures[:, : bands * rows].reshape(n, bands, rows).transpose(1, 0, 2).reshape(-1, rows),
        ],
        axis=1,
    )
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    bucket = np.cumsum(np.concatenate(([0], np.any(ordered[1:] != ordered[:-1], axis=1))))
    sizes = np.bincount(bucket)
    usable = sizes[bucket] <= max_bucket
    docs = order % n
    codes = []
    # Members of a bucket are adjacent after sorting: pair each with the one `offset` places on.
    for offset in range(1, int(sizes[bucket[usable]].max(initial=1))):
        same = (bucket[offset:] == bucket[:-offset]) & usable[offset:]
        a, b = docs[:-offset][same], docs[offset:][same]
        codes.append(np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b))
    return np.unique(np.concatenate(codes)) if codes else np.zeros(0, dtype=np.int64)


def candidate_pairs(
    signatures: dict[str, np.ndarray], views: tuple[LSHView, ...], options: MinHashOptions
) -> dict[tuple[int, int], tuple[str, ...]]:
    """Map each candidate pair ``(i, j)`` with ``i < j`` to the names of the views proposing it."""
    proposed: dict[tuple[int, int], tuple[str, ...]] = {}
    for view in views:
        if view.bands * view.rows > options.num_perm:
            raise ValueError(
                f"view {view.name!r}: {view.bands} x {view.rows} bands exceed {options.num_perm} perms"
            )
        n = len(signatures[view.name])
        for code in bucket_pairs(signatures[view.name], view.bands, view.rows, view.max_bucket).tolist():
            pair = divmod(code, n)
            proposed[pair] = (*proposed.get(pair, ()), view.name)
    return dict(sorted(proposed.items()))
