"""Term weights (inverse document frequency) for a batch of documents.

One implementation is used by fingerprinting (keyword view), verification (TF-IDF cosine)
and canonicalisation (sentence alignment), so every stage agrees on what a distinctive word is.

A batch's own document frequencies are a poor estimate when the batch is small, or is one
story's versions only (then every name is in every document and looks common). So the
batch is blended with a background: word frequencies of the language (the ``wordfreq``
package), turned into a document frequency for a typical news article length and weighed as
``prior_documents`` pseudo-documents. Small batches lean on the background; large batches
on themselves.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import lru_cache

# Tokens in a typical news article: converts a word's corpus frequency into the chance
# that an article contains it.
TYPICAL_DOCUMENT_TOKENS = 300
# Floor for words the background has never seen (names, numbers): rare, not infinitely so.
MIN_BACKGROUND_FREQUENCY = 1e-7
# Weight of the background, in documents. Measured on the labelled sets (benchmarks/grouping.py):
# pure batch IDF and pure background IDF each lose 0.04 ARI on one of the two sets.
PRIOR_DOCUMENTS = 20.0


@lru_cache(maxsize=8)
def _frequency_table(language: str) -> dict[str, float]:
    import wordfreq

    return wordfreq.get_frequency_dict(language, wordlist="best")


@lru_cache(maxsize=1 << 20)
def background_document_frequency(term: str, language: str) -> float:
    """Chance that a typical article in ``language`` contains ``term``."""
    freq = _frequency_table(language).get(term)
    if freq is None:  # numbers and dotted words: wordfreq's own tokenizer knows what to do
        import wordfreq

        freq = wordfreq.word_frequency(term, language)
    return -math.expm1(-max(freq, MIN_BACKGROUND_FREQUENCY) * TYPICAL_DOCUMENT_TOKENS)


class TermWeights:
    """``idf(t) = log(1 / p(t))`` with ``p(t) = (df(t) + m * p_bg(t)) / (N + m)``."""

    def __init__(
        self,
        document_frequencies: Counter[str],
        n_documents: int,
        prior_documents: float = PRIOR_DOCUMENTS,
        language: str | None = "en",
    ) -> None:
        self.df = document_frequencies
        self.n_documents = n_documents
        self.prior_documents = prior_documents if language else 0.0
        self.language = language
        self._cache: dict[str, float] = {}

    @classmethod
    def fit(
        cls,
        token_lists: Sequence[Iterable[str]],
        prior_documents: float = PRIOR_DOCUMENTS,
        language: str | None = "en",
    ) -> TermWeights:
        df: Counter[str] = Counter()
        for toks in token_lists:
            df.update(set(toks))
        return cls(df, len(token_lists), prior_documents, language)

    def idf(self, term: str) -> float:
        cached = self._cache.get(term)
        if cached is not None:
            return cached
        df = self.df.get(term, 0)
        if self.language:
            background = background_document_frequency(term, self.language)
            p = (df + self.prior_documents * background) / (self.n_documents + self.prior_documents)
        else:  # batch only, smoothed
            p = (df + 1) / (self.n_documents + 1)
        value = max(-math.log(p), 0.0)
        self._cache[term] = value
        return value

    def top_terms(self, toks: Sequence[str], k: int) -> list[str]:
        """The k terms with the highest tf-idf (sublinear tf), ties broken alphabetically."""
        counts = Counter(toks)
        scored = sorted(counts, key=lambda t: (-(1.0 + math.log(counts[t])) * self.idf(t), t))
        return scored[:k]
