"""Verify: score candidate pairs with corpus statistics and keep the ones that tell one story.

Each document is one vector: the L2-normalised IDF-weighted content words of its body plus
those of its title (sublinear tf), normalised again. A pair's similarity is the cosine of
the two vectors, halved when both publication dates are known and more than a few days apart
and cut further when months apart: on the labelled sets the date is the strongest single
signal separating two events about the same people (an ARI gain of 0.03-0.04).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy import sparse

from dedup.config import PipelineOptions
from dedup.fingerprint import set_jaccard
from dedup.records import PairEdge
from dedup.text import word_ngrams
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
    rows = np.repeat(np.arange(len(token_lists)), [len(toks) for toks in token_lists])
    cols = np.fromiter(
        (vocabulary.setdefault(t, len(vocabulary)) for toks in token_lists for t in toks), np.int64, len(rows)
    )
    width = max(len(vocabulary), 1)
    # Summing duplicate (row, term) entries counts each term; weights are looked up once per term.
    counts = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(token_lists), width))
    counts.sum_duplicates()
    idf = np.zeros(width)
    idf[: len(vocabulary)] = [weights.idf(t) for t in vocabulary]
    counts.data = (1.0 + np.log(counts.data)) * idf[counts.indices]
    return _l2_normalise(counts)


# Pairs scored per chunk: both sides' rows are materialised, so memory grows with the chunk.
PAIRS_PER_CHUNK = 8192


def pair_cosines(matrix: sparse.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    """Row-wise dot products for an (m, 2) array of index pairs."""
    out = np.zeros(len(pairs))
    for start in range(0, len(pairs), PAIRS_PER_CHUNK):
        chunk = pairs[start : start + PAIRS_PER_CHUNK]
        out[start : start + len(chunk)] = np.asarray(
            matrix[chunk[:, 0]].multiply(matrix[chunk[:, 1]]).sum(axis=1)
        ).ravel()
    return out


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
        return PairScores(
            cosine * self.date_factor(apart),
            pair_cosines(self.body, pairs),
            pair_cosines(self.title, pairs),
            apart,
        )

    def date_factor(self, days_apart: np.ndarray) -> np.ndarray:
        """1 within the window (or when a date is unknown), then a step down, then a lower step."""
        apart = np.nan_to_num(days_apart, nan=0.0)
        o = self.options
        return np.where(
            apart > o.date_far_days,
            o.date_far_penalty,
            np.where(apart > o.date_window_days, o.date_penalty, 1.0),
        )

    def similarity_matrix(self, docs: np.ndarray) -> np.ndarray:
        """Dense similarities among ``docs`` (one sparse product: clustering scores whole
        components, and row-pair indexing costs far more)."""
        rows = self.combined[docs]
        cosine = (rows @ rows.T).toarray()
        return cosine * self.date_factor(np.abs(self.days[docs][:, None] - self.days[docs][None, :]))

    def similarity(self, pairs: np.ndarray) -> np.ndarray:
        """The verifier similarity alone (what clustering needs)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        apart = np.abs(self.days[pairs[:, 0]] - self.days[pairs[:, 1]])
        return pair_cosines(self.combined, pairs) * self.date_factor(apart)

    def verify(
        self, candidates: dict[tuple[int, int], tuple[str, ...]], body_tokens: Sequence[Sequence[str]]
    ) -> list[PairEdge]:
        """The candidate pairs whose similarity reaches the threshold, with their signals."""
        pairs = np.array(list(candidates), dtype=np.int64).reshape(-1, 2)
        # The signals beyond the similarity are only kept for verified pairs: score those only.
        pairs = pairs[self.similarity(pairs) >= self.options.threshold]
        s = self.scores(pairs)
        shingles: dict[int, set[str]] = {}  # each document's 5-grams, built once

        def shingles_of(doc: int) -> set[str]:
            if doc not in shingles:
                shingles[doc] = word_ngrams(list(body_tokens[doc]), 5)
            return shingles[doc]

        edges = []
        for k, (a, b) in enumerate(pairs.tolist()):
            edges.append(
                PairEdge(
                    a=a,
                    b=b,
                    similarity=float(s.similarity[k]),
                    body_similarity=float(s.body[k]),
                    title_similarity=float(s.title[k]),
                    shingle_jaccard=set_jaccard(shingles_of(a), shingles_of(b)),
                    days_apart=None if np.isnan(s.days_apart[k]) else int(s.days_apart[k]),
                    views=candidates[(a, b)],
                )
            )
        return edges
