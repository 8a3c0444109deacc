from __future__ import annotations

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from dedup.candidates import candidate_pairs
from dedup.cluster import cut_dendrogram
from dedup.config import LSHView, MinHashOptions
from dedup.fingerprint import minhash_signatures


def test_numpy_banding_proposes_what_datasketch_lsh_proposes() -> None:
    rng = np.random.default_rng(3)
    options = MinHashOptions()
    vocabulary = [f"w{i}" for i in range(60)]
    sets = [set(rng.choice(vocabulary, 8, replace=False).tolist()) for _ in range(80)]
    signatures = minhash_signatures(sets, options)
    for bands, rows in ((128, 1), (32, 4)):
        view = LSHView(name="v", kind="keywords", bands=bands, rows=rows)
        lsh = MinHashLSH(num_perm=options.num_perm, params=(bands, rows))
        expected = set()
        for i, row in enumerate(signatures):
            sketch = LeanMinHash(seed=options.seed, hashvalues=row, scheme=options.scheme)
            expected.update((j, i) for j in lsh.query(sketch))
            lsh.insert(i, sketch, check_duplication=False)
        assert set(candidate_pairs({"v": signatures}, (view,), options)) == expected


def test_oversized_buckets_are_skipped() -> None:
    options = MinHashOptions()
    signatures = minhash_signatures([{"same"}] * 5, options)
    view = LSHView(name="v", kind="keywords", bands=128, rows=1, max_bucket=4)
    assert candidate_pairs({"v": signatures}, (view,), options) == {}


def test_two_tight_groups_stay_apart_when_their_cross_similarity_is_low() -> None:
    sim = np.full((6, 6), 0.12)
    sim[:3, :3] = sim[3:, 3:] = 0.6
    np.fill_diagonal(sim, 1.0)
    # Above the absolute threshold, but far below each group's own cohesion.
    assert sorted(sorted(g) for g in cut_dendrogram(sim, 0.1, 0.5)) == [[0, 1, 2], [3, 4, 5]]
    assert sorted(sorted(g) for g in cut_dendrogram(sim, 0.1, 0.0)) == [[0, 1, 2, 3, 4, 5]]


def test_a_single_document_joins_on_the_threshold_alone() -> None:
    sim = np.full((4, 4), 0.12)
    sim[:3, :3] = 0.6
    np.fill_diagonal(sim, 1.0)
    assert sorted(sorted(g) for g in cut_dendrogram(sim, 0.1, 0.5)) == [[0, 1, 2, 3]]
