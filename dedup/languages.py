"""Function words of the languages news is written in, and which of them a document uses.

``STOPWORDS`` are English. In a batch of mixed languages, the function words of a language
few documents are written in ("de", "la", "que" among 45 Spanish pages of 1,170) have a low
document frequency, so term weights treat them as distinctive, and any two documents of that
language look alike: on the extraction sets' 1,171 web pages, 37 of the 45 Spanish pages were
grouped into stories, one of them 22 unrelated articles. A document whose words are mostly
another language's function words has that language's function words removed from its
content words as well as ``STOPWORDS``.

A language's function words are its most frequent words in wordfreq's lists, letters only
and more than one. Reading them from those lists takes 0.3 s, once per machine: they are
kept in the cache folder, which later processes read in a few milliseconds, when a chunk holds
a document that is not plainly English or (local engine, several workers) while the workers
extract. An English document is tokenised exactly as before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, islice
from pathlib import Path

import numpy as np
import xxhash
from scipy import sparse

from dedup.cache import cache_dir, written_in_place
from dedup.text import STOPWORDS, tokens

log = logging.getLogger("dedup")

# wordfreq's languages written with spaces between words, whose words our tokenizer reads as
# wordfreq does (Han, kana, Thai and the Brahmic scripts left out).
FUNCTION_WORD_LANGUAGES = (
    "ar", "bg", "ca", "cs", "da", "de", "el", "es", "fa", "fi", "fil", "fr", "he", "hu", "id", "is",
    "it", "ko", "lt", "lv", "mk", "ms", "nb", "nl", "pl", "pt", "ro", "ru", "sh", "sk", "sl", "sv",
    "tr", "uk", "ur", "vi",
)  # fmt: skip
# A language's most frequent words taken as its function words: at 100, the lists end before
# words like "gobierno", "deutschland" or "france" that can tell stories apart.
FUNCTION_WORDS_PER_LANGUAGE = 100
# A document whose tokens are at least this share English stopwords is English (news in English
# runs at 0.25-0.60, on the labelled sets and the extraction sets' pages; other languages at
# under 0.12): it is not compared with the other languages.
ENGLISH_SHARE = 0.2
# Another language is only taken on this much evidence: at least this share of the document's
# tokens, and this many of them, are its function words (news in the listed languages runs at
# 0.08-0.45 on those pages; a few "de" or "die" among names and numbers is no evidence).
FOREIGN_SHARE = 0.05
MIN_FOREIGN_HITS = 3
# Every language a document is read as, by index: English (``STOPWORDS``) first.
LANGUAGES = ("en", *FUNCTION_WORD_LANGUAGES)
ENGLISH = 0
# Recorded beside saved signatures (dedup/state.py): keyword signatures and document
# frequencies of documents in other languages depend on it.
CONTENT_WORD_RULE = {
    "function_word_languages": list(FUNCTION_WORD_LANGUAGES),
    "function_words_per_language": FUNCTION_WORDS_PER_LANGUAGE,
    "english_share": ENGLISH_SHARE,
    "foreign_share": FOREIGN_SHARE,
    "min_foreign_hits": MIN_FOREIGN_HITS,
}


@dataclass(frozen=True)
class FunctionWords:
    """``languages_of``: each function word, with the indices into ``LANGUAGES`` of the
    languages it is one of (English's are ``STOPWORDS``)."""

    languages_of: dict[str, tuple[int, ...]]

    def table(self, vocabulary: Sequence[str]) -> np.ndarray:
        """``[language, word]``: whether each vocabulary word is a function word of each language."""
        table = np.zeros((len(LANGUAGES), len(vocabulary)), dtype=bool)
        for word, of in enumerate(map(self.languages_of.get, vocabulary)):
            if of is not None:
                table[of, word] = True
        return table


def _most_frequent_words(language: str, n: int) -> list[str]:
    """Of the ``n`` most frequent words of ``language`` in wordfreq's small list, those our
    tokenizer reads as one content-word-shaped token: letters only, more than one, tokenised
    to itself (so no number, which is always a content word)."""
    import wordfreq

    # Uncached: wordfreq's lru_cache would keep all 36 lists, 128 MB, for 100 words of each.
    read = getattr(wordfreq.get_frequency_list, "__wrapped__", wordfreq.get_frequency_list)
    top = list(islice(chain.from_iterable(read(language, "small")), n))  # most frequent first
    return [word for word in top if len(word) > 1 and word.isalpha() and tokens(word) == [word]]


def function_words_path(folder: Path) -> Path:
    """The cached function words' file in ``folder``, named after what they are read from."""
    from importlib.metadata import version

    languages = xxhash.xxh64_hexdigest(" ".join(FUNCTION_WORD_LANGUAGES).encode("ascii"))
    name = f"function-words-wordfreq{version('wordfreq')}-top{FUNCTION_WORDS_PER_LANGUAGE}-{languages}.json"
    return folder / name


@lru_cache(maxsize=1)
def function_words() -> FunctionWords:
    """Every language's function words, once per process (fork after loading). Reading them
    from wordfreq's lists takes 0.3 s, so they are kept in the cache folder (``cache_dir``)
    and read from there (a few milliseconds) by every later run; where it cannot be written,
    they are read from wordfreq each time."""
    path = function_words_path(cache_dir())
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored["languages"] == list(LANGUAGES):
            of = stored["languages_of"]
            return FunctionWords({word: tuple(of[word]) for word in of})
    except (OSError, ValueError, KeyError, TypeError):
        pass  # not cached yet, or not readable: read from wordfreq
    languages_of: dict[str, list[int]] = {word: [ENGLISH] for word in sorted(STOPWORDS)}
    for k, language in enumerate(FUNCTION_WORD_LANGUAGES, start=1):
        for word in _most_frequent_words(language, FUNCTION_WORDS_PER_LANGUAGE):
            languages_of.setdefault(word, []).append(k)
    found = FunctionWords({word: tuple(of) for word, of in languages_of.items()})
    stored = {"languages": list(LANGUAGES), "languages_of": languages_of}
    try:
        with written_in_place(path) as temporary:
            temporary.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    except OSError as exc:
        log.debug("cannot cache the function words in %s: %s", path, exc)
    return found


@dataclass(frozen=True)
class DocumentLanguages:
    """The language of each document of a chunk (an index into ``LANGUAGES``)
    and, unless they are all English, which chunk words are function words of which language."""

    languages: np.ndarray
    table: np.ndarray | None

    @classmethod
    def of(cls, vocabulary: Sequence[str], token_ids: np.ndarray, lengths: np.ndarray) -> DocumentLanguages:
        """Each document's language (its tokens are ``token_ids`` into ``vocabulary``,
        ``lengths[d]`` of them for document d): the one whose function words it uses most, if
        they are enough of its tokens (FOREIGN_SHARE, MIN_FOREIGN_HITS); English when tied, when
        there is not enough evidence or when at least ENGLISH_SHARE of its tokens are STOPWORDS."""
        n_docs = len(lengths)
        languages = np.full(n_docs, ENGLISH, dtype=np.int64)
        doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        is_stopword = np.fromiter(map(STOPWORDS.__contains__, vocabulary), bool, len(vocabulary))
        english = np.bincount(doc_of, weights=is_stopword[token_ids], minlength=n_docs)
        unclear = english < ENGLISH_SHARE * np.asarray(lengths)
        if not unclear.any():
            return cls(languages, None)
        table = function_words().table(vocabulary)
        # Each unclear document's count of each function word, sparse, times the table: a
        # language's hits in one product (one pass over the tokens per language cost 4 times
        # as much on the extraction sets' pages).
        columns = np.flatnonzero(table.any(axis=0))
        column_of = np.full(len(vocabulary), -1, dtype=np.int64)
        column_of[columns] = np.arange(len(columns))
        of_unclear = unclear[doc_of]
        docs, found_columns = doc_of[of_unclear], column_of[token_ids[of_unclear]]
        is_function_word = found_columns >= 0
        counts = sparse.csr_matrix(
            (np.ones(int(is_function_word.sum())), (docs[is_function_word], found_columns[is_function_word])),
            shape=(n_docs, len(columns)),
        )
        hits = np.asarray((counts @ table[:, columns].T.astype(np.float64)).T)
        # argmax takes the first of equal counts: English (index 0) wins a tie.
        best = hits.argmax(axis=0)
        found = hits[best, np.arange(n_docs)]
        foreign = unclear & (found >= FOREIGN_SHARE * np.asarray(lengths)) & (found >= MIN_FOREIGN_HITS)
        languages[foreign] = best[foreign]
        return cls(languages, table if (languages != ENGLISH).any() else None)

    def function_word_tokens(self, token_ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """For each token (``lengths[d]`` of them for document d), whether it is a function word
        of its document's language when that language is not English."""
        mask = np.zeros(len(token_ids), dtype=bool)
        if self.table is None:
            return mask
        doc_language = np.repeat(self.languages, lengths)
        for language in np.unique(self.languages[self.languages != ENGLISH]).tolist():
            of_language = doc_language == language
            mask[of_language] = self.table[language][token_ids[of_language]]
        return mask


def language_of(tokens: Sequence[str]) -> int:
    """``DocumentLanguages.of`` for one document, given its tokens."""
    if sum(map(STOPWORDS.__contains__, tokens)) >= ENGLISH_SHARE * len(tokens):
        return ENGLISH  # the common case, decided as ``of`` decides it, without a vocabulary
    vocabulary = list(dict.fromkeys(tokens))
    index = {word: i for i, word in enumerate(vocabulary)}
    ids = np.fromiter(map(index.__getitem__, tokens), np.int64, len(tokens))
    return int(DocumentLanguages.of(vocabulary, ids, np.array([len(tokens)])).languages[0])


def language_code(language: int) -> str:
    """wordfreq's code of ``language`` (an index into ``LANGUAGES``)."""
    return LANGUAGES[language]


@lru_cache(maxsize=64)
def language_stopwords(language: int) -> frozenset[str]:
    """The words a document of ``language`` (an index into ``LANGUAGES``) never counts as
    content words: STOPWORDS and, for another language than English, its function words."""
    if language == ENGLISH:
        return STOPWORDS
    return STOPWORDS | {word for word, of in function_words().languages_of.items() if language in of}
