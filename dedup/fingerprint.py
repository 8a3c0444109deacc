"""Fingerprint: MinHash signatures (datasketch) of each document under each LSH view."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketch import MinHash

from dedup.config import LSHView, MinHashOptions
from dedup.text import word_ngrams
from dedup.weights import TermWeights


def view_features(
    view: LSHView, toks: Sequence[str], content: Sequence[str], weights: TermWeights
) -> set[str]:
    """The set a view hashes: word n-grams of all tokens, or the top-k distinctive content words."""
    if view.kind == "shingles":
        return word_ngrams(list(toks), view.ngram)
    if view.kind == "keywords":
        return set(weights.top_terms(content, view.top_k))
    raise ValueError(f"unknown LSH view kind: {view.kind!r}")


def minhash_signatures(feature_sets: Sequence[set[str]], options: MinHashOptions) -> np.ndarray:
    """One row of ``num_perm`` hash values per document (dtype of the datasketch scheme)."""
    batches = ([f.encode("utf-8") for f in sorted(features)] for features in feature_sets)
    minhashes = MinHash.generator(
        batches, num_perm=options.num_perm, seed=options.seed, scheme=options.scheme
    )
    rows = [m.hashvalues for m in minhashes]
    if not rows:
        return np.zeros((0, options.num_perm), dtype=np.uint32)
    return np.vstack(rows)


def estimated_jaccard(signatures: np.ndarray, a: int, b: int) -> float:
    return float(np.mean(signatures[a] == signatures[b]))
