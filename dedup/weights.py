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
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import lru_cache
from itertools import chain, repeat
from typing import TYPE_CHECKING

import numpy as np
import regex

if TYPE_CHECKING:
    from dedup.vocabulary import Vocabulary

# Tokens in a typical news article: converts a word's corpus frequency into the chance
# that an article contains it.
TYPICAL_DOCUMENT_TOKENS = 300
# Floor for words the background has never seen (names, numbers): rare, not infinitely so.
MIN_BACKGROUND_FREQUENCY = 1e-7
# Terms weighed per pass of TermWeights.idf_array (bounds its temporary lists).
IDF_TERMS_PER_PASS = 1 << 20
# Words whose vocabulary lookup idf_array remembers: canonicalisation weighs the same common
# words story after story, and a dict hit costs far less than hashing and searching the word.
IDF_MEMO_TERMS = 1 << 18
# Weight of the background, in documents. Measured on the labelled sets (benchmarks/grouping.py):
# pure batch IDF and pure background IDF each lose 0.04 ARI on one of the two sets.
PRIOR_DOCUMENTS = 20.0


@lru_cache(maxsize=8)
def background_table(language: str) -> dict[str, float]:
    """wordfreq's frequencies of ``language``: loaded once per process (fork after loading)."""
    import wordfreq

    # Asked as wordfreq's own lookups ask (positional arguments): its cache keys on how it is
    # called, and a keyword call built and held a second copy of the table (0.07-0.15 s, 7 MB).
    return wordfreq.get_frequency_dict(language, "best")


# Languages whose wordfreq lookup of a plain word (``is_plain_word``) that is not in the
# frequency table is always 0.0: the word is its own single token, with no digits to smash,
# so wordfreq finds nothing (tests/test_fingerprint.py checks this against wordfreq). Invented,
# rare and foreign names and foreign-language words are most of the terms outside the table;
# re-tokenising each of them in wordfreq cost more than everything else that weighs terms.
_PLAIN_WORD_LANGUAGES = frozenset({"en"})
# Scripts written with spaces, whose letters wordfreq's tokenizer keeps in one token (Han, kana
# and Thai have rules of their own there: left out).
_SPACED_SCRIPT_WORD = regex.compile(
    r"[\p{Latin}\p{Greek}\p{Cyrillic}\p{Armenian}\p{Georgian}\p{Hangul}\p{Hebrew}\p{Arabic}]+"
)


def is_plain_word(term: str) -> bool:
    """Whether wordfreq reads ``term`` as one token equal to itself: letters only, of a spaced
    script, already case-folded and NFC ("straße" is read as "strasse", decomposed Hangul as
    the composed syllables). Checked against a million words of 25 languages' word lists."""
    if term.isascii():
        return term.isalpha() and term.islower()
    return (
        term.isalpha()
        and term.casefold() == term
        and unicodedata.is_normalized("NFC", term)
        and _SPACED_SCRIPT_WORD.fullmatch(term) is not None
    )


@lru_cache(maxsize=1 << 20)
def background_document_frequency(term: str, language: str) -> float:
    """Chance that a typical article in ``language`` contains ``term``."""
    return float(background_document_frequencies([term], language)[0])


def background_document_frequencies(terms: Sequence[str], language: str) -> np.ndarray:
    """``background_document_frequency`` of each term (float64), computed once per distinct
    frequency: only terms outside wordfreq's table that are not plain words (numbers, dotted
    words) go to wordfreq one by one."""
    freqs = list(map(background_table(language).get, terms))
    if None in freqs:
        # Most terms outside the table are plain words (0.0, see _PLAIN_WORD_LANGUAGES).
        plain = language in _PLAIN_WORD_LANGUAGES
        freqs = [
            f if f is not None else 0.0 if plain and is_plain_word(t) else _wordfreq_frequency(t, language)
            for t, f in zip(terms, freqs, strict=True)
        ]
    floor, tokens = MIN_BACKGROUND_FREQUENCY, TYPICAL_DOCUMENT_TOKENS
    by_freq = {f: -math.expm1(-max(f, floor) * tokens) for f in set(freqs)}
    return np.fromiter(map(by_freq.__getitem__, freqs), np.float64, len(freqs))


def _wordfreq_frequency(term: str, language: str) -> float:
    import wordfreq  # numbers and dotted words: wordfreq's own tokenizer knows what to do

    if language in _NUMBER_SHAPE_LANGUAGES and _NUMBER.fullmatch(term) and term.strip("0.,"):
        term = _DIGIT_GROUP.sub(_group_representative, term)
    return wordfreq.word_frequency(term, language)


# A number's wordfreq frequency is that of its shape: wordfreq merges digits into one entry per
# shape ("0,000") and spreads it by digit group, a group of four by its value (a year), any
# other group by its first digit and length (Benford's law). So "5,831,442" is asked as
# "5,811,411": one computation (then a cache hit in wordfreq) for every number of that form,
# where each distinct number cost 15-25 us (tests/test_fingerprint.py checks both agree).
# Not for a number of zeros only: wordfreq reads that one from its table as it is. Only for
# languages whose wordfreq tokenizer splits by character class (checked for English): a
# dictionary segmenter (Chinese, Japanese) may cut two numbers of one shape differently.
_NUMBER_SHAPE_LANGUAGES = frozenset({"en"})
_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)*", re.ASCII)
_DIGIT_GROUP = re.compile(r"[0-9]{2,}", re.ASCII)


def _group_representative(group: re.Match[str]) -> str:
    digits = group.group()
    return digits if len(digits) == 4 else digits[0] + "1" * (len(digits) - 1)


class VocabularyCounts(Mapping[str, int]):
    """Document frequencies held as an array by vocabulary id: a read-only mapping of the terms
    with a non-zero count (no dict of millions of entries)."""

    def __init__(self, vocabulary: Vocabulary, counts: np.ndarray) -> None:
        self.vocabulary = vocabulary
        self.counts = counts

    def __getitem__(self, term: str) -> int:
        i = self.vocabulary.get(term)
        count = 0 if i is None else int(self.counts[i])
        if not count:
            raise KeyError(term)
        return count

    def __iter__(self) -> Iterator[str]:
        return iter(self.vocabulary.words(np.flatnonzero(self.counts)))

    def __len__(self) -> int:
        return int(np.count_nonzero(self.counts))


class TermWeights:
    """``idf(t) = log(1 / p(t))`` with ``p(t) = (df(t) + m * p_bg(t)) / (N + m)``."""

    def __init__(
        self,
        document_frequencies: Mapping[str, int],
        n_documents: int,
        prior_documents: float = PRIOR_DOCUMENTS,
        language: str | None = "en",
    ) -> None:
        self.df = document_frequencies
        self.n_documents = n_documents
        self.prior_documents = prior_documents if language else 0.0
        self.language = language
        self._cache: dict[str, float] = {}
        self._memo: dict[str, float] = {}  # vocabulary terms recently weighed, IDF_MEMO_TERMS at most
        # Set by from_vocabulary: the IDF of every vocabulary term, by id.
        self.vocabulary: Vocabulary | None = None
        self._idf_by_id = np.zeros(0)

    @classmethod
    def fit(
        cls,
        token_lists: Sequence[Iterable[str]],
        prior_documents: float = PRIOR_DOCUMENTS,
        language: str | None = "en",
    ) -> TermWeights:
        # One count over every document's distinct terms (the same insertion order as one
        # update per document).
        df: Counter[str] = Counter(chain.from_iterable(map(set, token_lists)))
        return cls.from_frequencies(df, len(token_lists), prior_documents, language)

    @classmethod
    def from_frequencies(
        cls,
        document_frequencies: Counter[str],
        n_documents: int,
        prior_documents: float = PRIOR_DOCUMENTS,
        language: str | None = "en",
    ) -> TermWeights:
        """``fit`` from document frequencies already counted (e.g. by tokenising workers)."""
        weights = cls(document_frequencies, n_documents, prior_documents, language)
        weights.idf_array(list(document_frequencies))  # every batch term: all at once, not one by one
        return weights

    @classmethod
    def from_vocabulary(
        cls,
        vocabulary: Vocabulary,
        document_frequency: np.ndarray,
        background: np.ndarray | None,
        n_documents: int,
        prior_documents: float = PRIOR_DOCUMENTS,
        language: str | None = "en",
    ) -> TermWeights:
        """Weights of a vocabulary held as arrays by term id (``vocabulary[i]`` is the term
        with id ``i``): its document frequencies and, when ``language`` is
        set, its terms' ``background_document_frequencies`` (computed where the terms were
        read, e.g. by tokenising workers). ``idf_of_ids`` then weighs ids without a string
        lookup; every value equals ``idf``'s."""
        counts = VocabularyCounts(vocabulary, document_frequency)
        weights = cls(counts, n_documents, prior_documents, language)
        weights.vocabulary = vocabulary
        dfs = np.asarray(document_frequency, dtype=np.int64)
        n = n_documents
        if not weights.language:  # batch only, smoothed
            distinct, inverse = np.unique(dfs, return_inverse=True)
            values = [max(-math.log((df + 1) / (n + 1)), 0.0) for df in distinct.tolist()]
        else:
            if background is None or len(background) != len(dfs):
                raise ValueError("a background frequency for every vocabulary term is needed")
            prior = weights.prior_documents
            # One Python evaluation of idf's expression per distinct (df, background) pair.
            backgrounds, code = np.unique(background, return_inverse=True)
            distinct, inverse = np.unique(dfs * len(backgrounds) + code.ravel(), return_inverse=True)
            df_of, background_of = np.divmod(distinct, max(len(backgrounds), 1))
            values = [
                max(-math.log((df + prior * bg) / (n + prior)), 0.0)
                for df, bg in zip(df_of.tolist(), backgrounds[background_of].tolist(), strict=True)
            ]
        weights._idf_by_id = np.array(values, dtype=np.float64)[inverse.ravel()]
        return weights

    def idf_of_ids(self, ids: np.ndarray) -> np.ndarray:
        """``idf`` of vocabulary terms given by id (``from_vocabulary`` weights only)."""
        if self.vocabulary is None:
            raise ValueError("these weights hold no vocabulary: weigh terms with idf_array")
        return self._idf_by_id[ids]

    def idf(self, term: str) -> float:
        i = self.vocabulary.get(term) if self.vocabulary is not None else None
        if i is not None:
            return float(self._idf_by_id[i])
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

    def idf_array(self, terms: Sequence[str]) -> np.ndarray:
        """``idf`` of each term as float64: the same values, computed for many terms at once.

        Terms already weighed come from the cache. For the others, the background frequency
        and the final logarithm are computed with ``idf``'s own expressions once per distinct
        input value (frequencies are quantised, document frequencies small integers); only
        terms outside wordfreq's table that are not plain words (numbers, dotted words) go
        to wordfreq one by one.
        """
        if self.vocabulary is None:
            return self._weighed(terms)
        memo = self._memo
        values = list(map(memo.get, terms))
        if None not in values:
            return np.array(values, dtype=np.float64)
        missing = list({t for t, v in zip(terms, values, strict=True) if v is None})
        if len(missing) > IDF_MEMO_TERMS:  # a whole batch's terms: nothing to remember
            return self._vocabulary_idf(terms)
        weighed = dict(zip(missing, self._vocabulary_idf(missing).tolist(), strict=True))
        if len(memo) + len(missing) > IDF_MEMO_TERMS:
            memo.clear()
        memo.update(weighed)
        return np.array([weighed[t] if v is None else v for t, v in zip(terms, values, strict=True)])

    def _vocabulary_idf(self, terms: Sequence[str]) -> np.ndarray:
        assert self.vocabulary is not None
        ids = self.vocabulary.ids_of(terms)
        known = ids >= 0
        if known.all():
            return self._idf_by_id[ids]
        out = np.empty(len(terms), dtype=np.float64)
        out[known] = self._idf_by_id[ids[known]]
        out[~known] = self._weighed([t for t, k in zip(terms, known.tolist(), strict=True) if not k])
        return out

    def _weighed(self, terms: Sequence[str]) -> np.ndarray:
        cache = self._cache
        values = list(map(cache.get, terms))
        if None in values:
            missing = [t for t, v in zip(terms, values, strict=True) if v is None]
            for start in range(0, len(missing), IDF_TERMS_PER_PASS):
                part = missing[start : start + IDF_TERMS_PER_PASS]
                cache.update(zip(part, self._compute_idf(part), strict=True))
            values = list(map(cache.__getitem__, terms))
        return np.array(values, dtype=np.float64)

    def _compute_idf(self, terms: list[str]) -> list[float]:
        dfs = list(map(self.df.get, terms, repeat(0)))
        n = self.n_documents
        if not self.language:  # batch only, smoothed
            by_df = {df: max(-math.log((df + 1) / (n + 1)), 0.0) for df in set(dfs)}
            return list(map(by_df.__getitem__, dfs))
        prior = self.prior_documents
        keys = list(zip(dfs, background_document_frequencies(terms, self.language).tolist(), strict=True))
        by_key = {key: max(-math.log((key[0] + prior * key[1]) / (n + prior)), 0.0) for key in set(keys)}
        return list(map(by_key.__getitem__, keys))

    def top_terms(self, toks: Sequence[str], k: int) -> list[str]:
        """The k terms with the highest tf-idf (sublinear tf), ties broken alphabetically."""
        counts = Counter(toks)
        scored = sorted(counts, key=lambda t: (-(1.0 + math.log(counts[t])) * self.idf(t), t))
        return scored[:k]
