"""Verify: score candidate pairs with corpus statistics and keep the ones that tell one story.

Each document is one vector: the L2-normalised IDF-weighted content words of its body plus
those of its title (sublinear tf), normalised again. A pair's similarity is the cosine of
the two vectors, halved when both publication dates are known and more than a few days apart:
on the labelled sets the date is the strongest single signal separating two events about the
same people (an ARI gain of 0.03-0.04).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy import sparse

from dedup.config import PipelineOptions
from dedup.fingerprint import shingle_jaccard
from dedup.records import PairEdge
from dedup.weights import TermWeights


def published_day(published: str | None) -> int | None:
    """Proleptic ordinal of an ISO date (the first 10 characters), or None."""
    if not published:
        return None
    try:
        return date.fromisoformat(published.strip()[:10]).toordinal()
    except ValueError:
        return None


def _l2_normalise(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ matrix


def tfidf_matrix(
    token_lists: Sequence[Sequence[str]], weights: TermWeights, vocabulary: dict[str, int] | None = None
) -> sparse.csr_matrix:
    """L2-normalised sublinear-tf x idf rows. Pass one ``vocabulary`` dict to several calls to
    put their columns in one space (then resize to the final vocabulary size)."""
    vocabulary = {} if vocabulary is None else vocabulary
    rows, cols, values = [], [], []
    for r, toks in enumerate(token_lists):
        for term, count in Counter(toks).items():
            rows.append(r)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
            values.append((1.0 + math.log(count)) * weights.idf(term))
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(token_lists), max(len(vocabulary), 1)))
    return _l2_normalise(matrix)


def pair_cosines(matrix: sparse.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    """Row-wise dot products for an (m, 2) array of index pairs."""
    if len(pairs) == 0:
        return np.zeros(0)
    return np.asarray(matrix[pairs[:, 0]].multiply(matrix[pairs[:, 1]]).sum(axis=1)).ravel()


@dataclass(frozen=True, slots=True)
class PairScores:
    similarity: np.ndarray
    body: np.ndarray
    title: np.ndarray
    days_apart: np.ndarray  # NaN where a date is unknown


class Verifier:
    """Scores pairs of one batch. Build once per batch; score any set of pairs."""

    def __init__(
        self,
        body_content: Sequence[Sequence[str]],
        title_content: Sequence[Sequence[str]],
        published: Sequence[str | None],
        weights: TermWeights,
        options: PipelineOptions,
    ) -> None:
        vocabulary: dict[str, int] = {}
        body = tfidf_matrix(body_content, weights, vocabulary)
        title = tfidf_matrix(title_content, weights, vocabulary)
        width = max(len(vocabulary), 1)
        body.resize((body.shape[0], width))
        title.resize((title.shape[0], width))
        self.body, self.title = body.tocsr(), title.tocsr()
        self.combined = _l2_normalise(self.body + options.title_weight * self.title).tocsr()
        days = [published_day(p) for p in published]
        self.days = np.array([np.nan if d is None else d for d in days], dtype=np.float64)
        self.options = options

    def scores(self, pairs: np.ndarray) -> PairScores:
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        cosine = pair_cosines(self.combined, pairs)
        apart = np.abs(self.days[pairs[:, 0]] - self.days[pairs[:, 1]])
        far = np.nan_to_num(apart, nan=0.0) > self.options.date_window_days
        similarity = np.where(far, cosine * self.options.date_penalty, cosine)
        return PairScores(similarity, pair_cosines(self.body, pairs), pair_cosines(self.title, pairs), apart)

    def similarity(self, pairs: np.ndarray) -> np.ndarray:
        return self.scores(pairs).similarity

    def verify(
        self, candidates: dict[tuple[int, int], tuple[str, ...]], body_tokens: Sequence[Sequence[str]]
    ) -> list[PairEdge]:
        """The candidate pairs whose similarity reaches the threshold, with their signals."""
        pairs = np.array(list(candidates), dtype=np.int64).reshape(-1, 2)
        s = self.scores(pairs)
        edges = []
        for k in np.flatnonzero(s.similarity >= self.options.threshold).tolist():
            a, b = int(pairs[k, 0]), int(pairs[k, 1])
            edges.append(
                PairEdge(
                    a=a,
                    b=b,
                    similarity=float(s.similarity[k]),
                    body_similarity=float(s.body[k]),
                    title_similarity=float(s.title[k]),
                    shingle_jaccard=shingle_jaccard(body_tokens[a], body_tokens[b]),
                    days_apart=None if np.isnan(s.days_apart[k]) else int(s.days_apart[k]),
                    views=candidates[(a, b)],
                )
            )
        return edges
