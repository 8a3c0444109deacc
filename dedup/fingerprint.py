"""Fingerprint: MinHash signatures (datasketch) of each document under each LSH view."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from datasketch import MinHash

from dedup.config import LSHView, MinHashOptions
from dedup.text import word_ngrams
from dedup.weights import TermWeights


def keyword_set(
    content: Sequence[str], title: Sequence[str], view: LSHView, weights: TermWeights
) -> set[str]:
    """The document's ``top_k`` most distinctive words: tf-idf over the lead (comment threads
    and bios that survive cleaning sit at the end), plus a fixed bonus for title words."""
    counts = Counter(content[: view.lead_words])
    scores = {t: (1.0 + math.log(c)) * weights.idf(t) for t, c in counts.items()}
    for t in set(title):
        scores[t] = scores.get(t, 0.0) + view.title_bonus
    ranked = sorted(scores, key=lambda t: (-scores[t], t))
    return set(ranked[: view.top_k])


def view_features(
    view: LSHView, toks: Sequence[str], content: Sequence[str], title: Sequence[str], weights: TermWeights
) -> set[str]:
    """The set a view hashes."""
    if view.kind == "keywords":
        return keyword_set(content, title, view, weights)
    if view.kind == "shingles":
        return word_ngrams(list(toks), view.ngram)
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


def shingle_jaccard(toks_a: Sequence[str], toks_b: Sequence[str], n: int = 5) -> float:
    """Exact Jaccard of two documents' word n-gram sets: how much of the wording is shared."""
    return set_jaccard(word_ngrams(list(toks_a), n), word_ngrams(list(toks_b), n))


def set_jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard of two sets (1.0 for two empty sets)."""
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 1.0
