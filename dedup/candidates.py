"""Candidates: pairs of documents that share an LSH bucket in at least one view.

Banding is datasketch's MinHashLSH, so no pair is ever compared unless its signatures collide.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from dedup.config import LSHView, MinHashOptions


def candidate_pairs(
    signatures: dict[str, np.ndarray], views: tuple[LSHView, ...], options: MinHashOptions
) -> dict[tuple[int, int], tuple[str, ...]]:
    """Map each candidate pair ``(i, j)`` with ``i < j`` to the names of the views proposing it."""
    proposed: dict[tuple[int, int], list[str]] = defaultdict(list)
    for view in views:
        lsh = MinHashLSH(num_perm=options.num_perm, params=(view.bands, view.rows))
        for i, row in enumerate(signatures[view.name]):
            sketch = LeanMinHash(seed=options.seed, hashvalues=row, scheme=options.scheme)
            for j in lsh.query(sketch):
                proposed[(j, i)].append(view.name)
            lsh.insert(i, sketch, check_duplication=False)
    return {pair: tuple(names) for pair, names in sorted(proposed.items())}
