from __future__ import annotations

import numpy as np
from datasketch import MinHash

from dedup.candidates import candidate_pairs
from dedup.config import LSHView, MinHashOptions
from dedup.fingerprint import minhash_signatures, shingle_jaccard


def test_signatures_are_datasketch_minhashes() -> None:
    options = MinHashOptions()
    sets = [{"a b c", "b c d", "c d e"}, {"x", "y"}]
    signatures = minhash_signatures(sets, options)
    for row, features in zip(signatures, sets, strict=True):
        reference = MinHash(num_perm=options.num_perm, seed=options.seed, scheme=options.scheme)
        reference.update_batch([f.encode("utf-8") for f in features])
        assert np.array_equal(row, reference.hashvalues)


def test_jaccard_estimate_tracks_the_true_value() -> None:
    rng = np.random.default_rng(7)
    universe = [f"w{i}" for i in range(2000)]
    a = set(rng.choice(universe, 600, replace=False).tolist())
    # sorted(): set order follows the per-process string hash seed, which must not pick the sets.
    b = set(sorted(a)[:400]) | set(rng.choice(universe, 200, replace=False).tolist())
    true = len(a & b) / len(a | b)
    num_perm = 256
    signatures = minhash_signatures([a, b], MinHashOptions(num_perm=num_perm))
    estimate = float(np.mean(signatures[0] == signatures[1]))
    # The estimator is binomial: 4 standard deviations is a bound a correct MinHash never misses.
    assert abs(estimate - true) < 4 * np.sqrt(true * (1 - true) / num_perm)


def test_lsh_proposes_similar_pairs_only() -> None:
    options = MinHashOptions()
    base = {f"t{i}" for i in range(100)}
    near = (base - {"t0", "t1", "t2"}) | {"u0", "u1", "u2"}
    other = {f"z{i}" for i in range(100)}
    view = LSHView(name="v", kind="shingles", bands=16, rows=8)
    pairs = candidate_pairs({"v": minhash_signatures([base, near, other], options)}, (view,), options)
    assert pairs == {(0, 1): ("v",)}


def test_shingle_jaccard_is_exact() -> None:
    a = "the quick brown fox jumps over the lazy dog".split()
    assert shingle_jaccard(a, a) == 1.0
    assert shingle_jaccard(a, [*a[:5], "cat"]) == 1 / 6  # 1 shared 5-gram; 5 + 2 - 1 distinct
