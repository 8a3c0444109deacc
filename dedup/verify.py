"""Verify: score candidate pairs with corpus statistics and keep the ones that tell one story.

The similarity is an IDF-weighted cosine of the bodies' content words (sublinear tf), blended
with the same cosine over titles. IDF comes from the batch, so words every version of a story
shares (names, places, numbers) outweigh the vocabulary of news in general.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse

from dedup.config import PipelineOptions
from dedup.fingerprint import estimated_jaccard
from dedup.records import PairEdge
from dedup.weights import TermWeights


def tfidf_matrix(token_lists: Sequence[Sequence[str]], weights: TermWeights) -> sparse.csr_matrix:
    """Rows are L2-normalised sublinear-tf x idf vectors over the batch vocabulary."""
    vocabulary: dict[str, int] = {}
    indptr, indices, values = [0], [], []
    for toks in token_lists:
        counts = Counter(toks)
        row = []
        for term, count in counts.items():
            col = vocabulary.setdefault(term, len(vocabulary))
            row.append((col, (1.0 + math.log(count)) * weights.idf(term)))
        norm = math.sqrt(sum(v * v for _, v in row)) or 1.0
        for col, value in sorted(row):
            indices.append(col)
            values.append(value / norm)
        indptr.append(len(indices))
    return sparse.csr_matrix(
        (np.asarray(values, dtype=np.float64), np.asarray(indices, dtype=np.int64), np.asarray(indptr)),
        shape=(len(token_lists), max(len(vocabulary), 1)),
    )


def pair_cosines(matrix: sparse.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    """Row-wise dot products for an (m, 2) array of index pairs."""
    if len(pairs) == 0:
        return np.zeros(0)
    left = matrix[pairs[:, 0]]
    right = matrix[pairs[:, 1]]
    return np.asarray(left.multiply(right).sum(axis=1)).ravel()


class Verifier:
    """Scores pairs of one batch. Build once per batch; score any set of pairs."""

    def __init__(
        self,
        body_tokens: Sequence[Sequence[str]],
        title_tokens: Sequence[Sequence[str]],
        shingle_signatures: np.ndarray,
        weights: TermWeights,
        options: PipelineOptions,
    ) -> None:
        self.body = tfidf_matrix(body_tokens, weights)
        self.title = tfidf_matrix(title_tokens, weights)
        self.has_title = np.array([len(t) > 0 for t in title_tokens])
        self.shingles = shingle_signatures
        self.options = options

    def similarities(self, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(combined, body, title) similarity for each pair. Without both titles, body alone."""
        body = pair_cosines(self.body, pairs)
        title = pair_cosines(self.title, pairs)
        if len(pairs) == 0:
            return body, body, title
        both = self.has_title[pairs[:, 0]] & self.has_title[pairs[:, 1]]
        w = self.options.title_weight
        combined = np.where(both, (1 - w) * body + w * title, body)
        return combined, body, title

    def verify(self, candidates: dict[tuple[int, int], tuple[str, ...]]) -> list[PairEdge]:
        """The candidate pairs whose similarity reaches the edge threshold."""
        pairs = np.array(list(candidates), dtype=np.int64).reshape(-1, 2)
        combined, body, title = self.similarities(pairs)
        edges = []
        for k, (a, b) in enumerate(pairs.tolist()):
            if combined[k] >= self.options.edge_threshold:
                edges.append(
                    PairEdge(
                        a=a,
                        b=b,
                        similarity=float(combined[k]),
                        body_similarity=float(body[k]),
                        title_similarity=float(title[k]),
                        shingle_jaccard=estimated_jaccard(self.shingles, a, b),
                        views=candidates[(a, b)],
                    )
                )
        return edges
