"""Fingerprint: MinHash signatures (datasketch's) of each document under each LSH view.

The per-document functions (``keyword_set``, ``view_features``) define a document's features;
the batch functions (``keyword_sets``, ``view_feature_sets``, ``minhash_signatures``) compute
the same sets and hash values for many documents at once, with numpy: engines should call those.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain, count, islice

import numpy as np
import pyarrow as pa

from dedup.candidates import segment_ranges, sorted_unique
from dedup.config import LSHView, MinHashOptions
from dedup.languages import DocumentLanguages
from dedup.store import SpilledArray
from dedup.text import content_tokens, content_words, tokens, word_ngrams
from dedup.vocabulary import GrowingArray, Vocabulary, VocabularyBuilder
from dedup.weights import PRIOR_DOCUMENTS, TermWeights, background_document_frequencies

# --- documents tokenised once ----------------------------------------------------------------


class EncodedTokens(Sequence[list[str]]):
    """Every token of each document as ids into one ``Vocabulary``: tokenised once, at 4 bytes
    a token where a list of strings costs 8 plus the strings. Indexing gives a document's list
    of tokens back (a slice, the lists of a run of documents, read in one pass)."""

    def __init__(
        self, vocabulary: Vocabulary | Sequence[str], indptr: np.ndarray, ids: np.ndarray | SpilledArray
    ) -> None:
        # Shared, not copied: several views may hold one vocabulary.
        self.vocabulary = vocabulary if isinstance(vocabulary, Vocabulary) else Vocabulary.of(vocabulary)
        self.indptr = indptr
        self.ids = ids
        self._has_spaces: bool | None = None

    def __len__(self) -> int:
        return len(self.indptr) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            start, stop, step = i.indices(len(self))
            if step != 1 or stop <= start:
                return [self[k] for k in range(start, stop, step)]
            words = iter(self.vocabulary.words(self.ids[self.indptr[start] : self.indptr[stop]]))
            return [list(islice(words, n)) for n in np.diff(self.indptr[start : stop + 1]).tolist()]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        return self.vocabulary.words(self.ids[self.indptr[i] : self.indptr[i + 1]])

    @property
    def has_spaces(self) -> bool:
        """Whether a word holds a space (``tokens`` never makes one): its joined n-grams could
        then equal other words' n-grams."""
        if self._has_spaces is None:
            self._has_spaces = self.vocabulary.has_spaces
        return self._has_spaces

    def rows(self, start: int, stop: int) -> EncodedTokens:
        """Documents ``start`` to ``stop - 1`` as an EncodedTokens of their own, sharing this
        one's arrays (nothing is read or copied)."""
        start, stop, _ = slice(start, stop).indices(len(self))
        return EncodedTokens(self.vocabulary, self.indptr[start : max(start, stop) + 1], self.ids)

    def prefix_ids(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(each document's count, their ids concatenated) of every document's first ``limit``
        tokens (all, for None), read in one pass over the documents' ids."""
        lengths = np.diff(self.indptr)
        if limit is not None:
            lengths = np.minimum(lengths, max(limit, 0))
        first = int(self.indptr[0])
        block = np.asarray(self.ids[first : int(self.indptr[-1])])
        return lengths, block[segment_ranges(self.indptr[:-1] - first, lengths)]

    def ids_of(self, docs: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(each document's token count, their token ids concatenated): equal ids, equal words."""
        docs = np.asarray(docs, dtype=np.int64)
        starts, lengths = self.indptr[docs], self.indptr[docs + 1] - self.indptr[docs]
        if isinstance(self.ids, SpilledArray):
            return lengths, self.ids.ranges(starts, lengths)
        return lengths, self.ids[segment_ranges(starts, lengths)]


@dataclass
class EncodedChunk:
    """Some documents' tokens, body content words and title content words, as ids into the
    chunk's own vocabulary (``encode_documents``): arrays pickle far faster than word lists."""

    vocabulary: Vocabulary  # the chunk's own, with its words' hashes
    token_lengths: np.ndarray
    token_ids: np.ndarray
    content_lengths: np.ndarray
    content_ids: np.ndarray
    title_lengths: np.ndarray
    title_ids: np.ndarray
    document_frequency: np.ndarray  # by vocabulary id: the chunk's documents with it in their body content


def encode_documents(texts_and_titles: Iterable[tuple[str, str]]) -> EncodedChunk:
    """Tokenise a chunk of documents (``tokens`` of the text; ``content_tokens`` of the text
    and of the title, less the function words of a document's language when it is not English:
    ``DocumentLanguages``) into ids. Whether a token is a content word is decided once per
    distinct word of the chunk, not once per occurrence."""
    body_lists, title_lists = [], []
    for text, title in texts_and_titles:
        body_lists.append(tokens(text))
        title_lists.append(content_tokens(title))
    token_lengths, title_lengths = _lengths(body_lists), _lengths(title_lists)
    # Ids in order of first appearance, the bodies' tokens then the titles' (which may add
    # words after the bodies'): one dictionary encoding of them all, a C++ hash table where a
    # dict lookup a token took 60-70 ms per 512 articles (40 ms).
    every_token = chain.from_iterable(chain(body_lists, title_lists))
    encoded = pa.array(list(every_token), pa.string()).dictionary_encode()
    vocabulary: list[str] = encoded.dictionary.to_pylist()
    ids = encoded.indices.to_numpy().astype(np.int32, copy=False)
    n_body = int(token_lengths.sum())
    token_ids, title_ids = ids[:n_body], ids[n_body:]
    size = max(len(vocabulary), 1)
    content = set(content_words(vocabulary))
    is_content = np.zeros(size, dtype=bool)
    is_content[: len(vocabulary)] = np.fromiter(map(content.__contains__, vocabulary), bool, len(vocabulary))
    content_mask = is_content[token_ids]
    # A document in another language also loses that language's function words (body and title).
    languages = DocumentLanguages.of(vocabulary, token_ids, token_lengths)
    if languages.table is not None:
        content_mask &= ~languages.function_word_tokens(token_ids, token_lengths)
        in_title = ~languages.function_word_tokens(title_ids, title_lengths)
        title_ids = title_ids[in_title]
        title_of = np.repeat(np.arange(len(title_lists), dtype=np.int64), title_lengths)[in_title]
        title_lengths = np.bincount(title_of, minlength=len(title_lists))
    doc_of = np.repeat(np.arange(len(body_lists), dtype=np.int64), token_lengths)[content_mask]
    content_ids = token_ids[content_mask]
    content_lengths = np.bincount(doc_of, minlength=len(body_lists))
    distinct = sorted_unique(doc_of * size + content_ids) % size
    return EncodedChunk(
        Vocabulary.of(vocabulary),
        token_lengths,
        token_ids,
        content_lengths,
        content_ids,
        title_lengths,
        title_ids,
        np.bincount(distinct, minlength=len(vocabulary)),
    )


def _lengths(lists: Sequence[Sequence[str]]) -> np.ndarray:
    return np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))


@dataclass
class EncodedCorpus:
    """Documents tokenised into ids under one vocabulary (``merge_encoded``): every token,
    body content words and title content words as three views of one vocabulary array, and
    by term id, the body document frequencies and (if encoded with a language) background
    frequencies that ``TermWeights.from_vocabulary`` reads."""

    tokens: EncodedTokens
    content: EncodedTokens
    titles: EncodedTokens
    document_frequency: np.ndarray
    background: np.ndarray | None
    language: str | None

    def weights(self, prior_documents: float = PRIOR_DOCUMENTS, language: str | None = "en") -> TermWeights:
        """The documents' term weights: ``TermWeights.fit`` over the body content words."""
        if language and language != self.language:
            raise ValueError(f"background frequencies were read for {self.language!r}, not {language!r}")
        return TermWeights.from_vocabulary(
            self.tokens.vocabulary,
            self.document_frequency,
            self.background,
            len(self.content),
            prior_documents,
            language,
        )


def merge_encoded(chunks: Iterable[EncodedChunk], language: str | None = "en") -> EncodedCorpus:
    """The chunks' documents, in order, under one vocabulary (ids in order of first appearance,
    chunk by chunk). Only ids are merged, each chunk as it comes: no word list is built, and
    the ids go to temporary files (``SpilledArray``), read back a slice at a time by the
    stages that need them: at a million articles they would take several GiB of memory.

    Each word new to the vocabulary gets its background frequency in ``language`` (None: none)
    as its chunk is merged, while the workers tokenise the next chunks: once per distinct word
    of the corpus. Weighed by the workers, a word was weighed again in every chunk it is in:
    at 10,000 articles (benchmarks/scale.py), 844,000 words (86,000 of them asked of wordfreq)
    for 550,000 distinct ones, and tokenising on one core took 6.8-8.2 s instead of 5.8-6.1 s."""
    vocabulary = VocabularyBuilder()
    df = GrowingArray(np.int64)
    background = GrowingArray(np.float64)
    names = ("token", "content", "title")
    lengths: dict[str, list[np.ndarray]] = {name: [np.zeros(1, np.int64)] for name in names}
    ids = {name: SpilledArray(np.int32) for name in names}
    for chunk in chunks:
        known = len(vocabulary)
        to_global = vocabulary.add(chunk.vocabulary)
        df.resize(len(vocabulary))
        df.view()[to_global] += chunk.document_frequency  # a chunk's ids are distinct
        if language:
            new = np.flatnonzero(to_global >= known)
            background.resize(len(vocabulary))
            new_words = chunk.vocabulary.words(new)
            background.view()[to_global[new]] = background_document_frequencies(new_words, language)
        for name in names:
            lengths[name].append(getattr(chunk, f"{name}_lengths"))
            ids[name].append(to_global[getattr(chunk, f"{name}_ids")])
    words = vocabulary.build()
    for spilled in ids.values():
        spilled.flush()  # before any worker forks with a copy of the write buffer
    views = [EncodedTokens(words, np.cumsum(np.concatenate(lengths[name])), ids[name]) for name in names]
    return EncodedCorpus(*views, df.final(), background.final() if language else None, language or None)


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


# Documents per numpy pass of the batch functions: bounds the memory of one pass.
BATCH_DOCUMENTS = 4096


@lru_cache(maxsize=8)
def _sublinear_tf(max_count: int) -> np.ndarray:
    """``1.0 + math.log(c)`` for c = 0..max_count (index 0 unused), with math.log's values."""
    return np.array([0.0] + [1.0 + math.log(c) for c in range(1, max_count + 1)], dtype=np.float64)


def keyword_sets(
    contents: Sequence[Sequence[str]],
    titles: Sequence[Sequence[str]],
    view: LSHView,
    weights: TermWeights,
) -> list[set[str]]:
    """``keyword_set`` of every document (the same sets), a batch at a time: every distinct
    term is weighed once, the scores and the ranking (score descending, then the term) are
    numpy array operations."""
    if len(contents) != len(titles):
        raise ValueError("one title per document")
    if view.top_k < 0:  # a negative slice bound: not worth a vectorised equivalent
        return [keyword_set(c, t, view, weights) for c, t in zip(contents, titles, strict=True)]
    encoded = (
        isinstance(contents, EncodedTokens)
        and isinstance(titles, EncodedTokens)
        and contents.vocabulary is titles.vocabulary
        and weights.vocabulary is contents.vocabulary
        and view.lead_words >= 0
    )
    out: list[set[str]] = []
    for start in range(0, len(contents), BATCH_DOCUMENTS):
        stop = start + BATCH_DOCUMENTS
        if encoded:
            batch = (contents.rows(start, stop), titles.rows(start, stop))
            out.extend(_keyword_sets_of_ids(*batch, view, weights))
        else:
            out.extend(_keyword_sets(contents[start:stop], titles[start:stop], view, weights))
    return out


def _keyword_sets_of_ids(
    contents: EncodedTokens, titles: EncodedTokens, view: LSHView, weights: TermWeights
) -> list[set[str]]:
    """``_keyword_sets`` over word ids and the weights' IDF by id: counting, scoring and
    ranking never read a word; only the terms ranked (for ties) and those kept are spelled."""
    n_docs = len(contents)
    vocabulary = contents.vocabulary
    width = max(len(vocabulary), 1)
    lead_lengths, lead_ids = contents.prefix_ids(view.lead_words)
    lead_keys, counts = np.unique(
        np.repeat(np.arange(n_docs, dtype=np.int64), lead_lengths) * width + lead_ids, return_counts=True
    )
    scores = _sublinear_tf(int(counts.max(initial=1)))[counts] * weights.idf_of_ids(lead_keys % width)
    title_lengths, title_ids = titles.prefix_ids()
    title_keys = np.unique(np.repeat(np.arange(n_docs, dtype=np.int64), title_lengths) * width + title_ids)
    return _top_terms(lead_keys, scores, title_keys, width, n_docs, view, vocabulary.words)


def _keyword_sets(
    contents: Sequence[Sequence[str]],
    titles: Sequence[Sequence[str]],
    view: LSHView,
    weights: TermWeights,
) -> list[set[str]]:
    n_docs = len(contents)
    # Lead: one entry per (document, distinct term), with its count. Terms are numbered as
    # they come (a missing key takes the next number inside the dict lookup: no Python call).
    counters = [Counter(content[: view.lead_words]) for content in contents]
    ids: defaultdict[str, int] = defaultdict(count().__next__)
    lead_sizes = np.fromiter(map(len, counters), dtype=np.int64, count=n_docs)
    n_entries = int(lead_sizes.sum())
    lead_terms = _ids_of(ids, counters, n_entries)
    counts = np.fromiter(chain.from_iterable(c.values() for c in counters), dtype=np.int64, count=n_entries)
    n_lead_terms = len(ids)
    title_sets = [set(title) for title in titles]
    title_sizes = np.fromiter(map(len, title_sets), dtype=np.int64, count=n_docs)
    title_terms = _ids_of(ids, title_sets, int(title_sizes.sum()))
    terms = list(ids)
    if not terms:
        return [set() for _ in range(n_docs)]
    width = len(terms)

    idf = np.zeros(width)
    idf[:n_lead_terms] = weights.idf_array(terms[:n_lead_terms])  # only lead terms are weighed
    scores = _sublinear_tf(int(counts.max(initial=1)))[counts] * idf[lead_terms]
    lead_keys = np.repeat(np.arange(n_docs, dtype=np.int64), lead_sizes) * width + lead_terms
    order = np.argsort(lead_keys)
    title_keys = np.sort(np.repeat(np.arange(n_docs, dtype=np.int64), title_sizes) * width + title_terms)
    return _top_terms(lead_keys[order], scores[order], title_keys, width, n_docs, view, terms)


def _top_terms(
    lead_keys: np.ndarray,
    scores: np.ndarray,
    title_keys: np.ndarray,
    width: int,
    n_docs: int,
    view: LSHView,
    spell: Callable[[np.ndarray], Sequence[str]] | Sequence[str],
) -> list[set[str]]:
    """Each document's ``top_k`` terms: ``lead_keys`` (document * width + term, ascending, one
    per distinct lead term) with their ``scores``, plus the title bonus for ``title_keys``
    (the same form); ``spell``: the terms' words, by term number (a sequence or a function
    of an array of numbers)."""
    # Title words: the bonus added to their lead score, or to 0.0.
    position = np.searchsorted(lead_keys, title_keys)
    in_lead = position < len(lead_keys)
    in_lead[in_lead] = lead_keys[position[in_lead]] == title_keys[in_lead]
    scores[position[in_lead]] = scores[position[in_lead]] + view.title_bonus
    title_only = title_keys[~in_lead]
    keys = np.concatenate([lead_keys, title_only])
    scores = np.concatenate([scores, np.full(len(title_only), 0.0) + view.title_bonus])
    if not len(keys):
        return [set() for _ in range(n_docs)]

    # Only the terms present are ranked: renumbered 0..n_terms-1 in ascending term order.
    present, local_terms = np.unique(keys % width, return_inverse=True)
    local_terms = local_terms.ravel()
    words = spell(present) if callable(spell) else [spell[t] for t in present.tolist()]
    n_terms = len(present)
    # Rank inside each document by score, descending, then by term in Python's string order:
    # one sort of (document, score rank, alphabetical rank) packed in an integer. np.unique
    # ranks the scores; like Python's comparisons, it finds -0.0 and 0.0 equal.
    alphabetical = np.empty(n_terms, dtype=np.int64)
    alphabetical[sorted(range(n_terms), key=words.__getitem__)] = np.arange(n_terms)
    distinct_scores, score_rank = np.unique(scores, return_inverse=True)
    n_scores = len(distinct_scores)
    if (n_docs + 1) * (n_scores + 1) * n_terms >= 1 << 62:
        raise OverflowError("keyword batch too large to rank in int64; lower BATCH_DOCUMENTS")
    docs = keys // width
    packed = (docs * n_scores + (n_scores - 1 - score_rank.ravel())) * n_terms + alphabetical[local_terms]
    packed.sort()
    docs = packed // (n_scores * n_terms)
    first = np.searchsorted(docs, np.arange(n_docs + 1))
    keep = np.arange(len(docs)) - first[docs] < view.top_k
    by_rank = np.empty(n_terms, dtype=np.int64)
    by_rank[alphabetical] = np.arange(n_terms)
    kept_terms = by_rank[packed[keep] % n_terms].tolist()
    bounds = np.searchsorted(docs[keep], np.arange(n_docs + 1)).tolist()
    return [{words[t] for t in kept_terms[bounds[d] : bounds[d + 1]]} for d in range(n_docs)]


def _ids_of(ids: dict[str, int], lists: Iterable[Iterable[str]], count: int) -> np.ndarray:
    """The ids of every item of every list, concatenated."""
    return np.fromiter(map(ids.__getitem__, chain.from_iterable(lists)), dtype=np.int64, count=count)


def view_features(
    view: LSHView, toks: Sequence[str], content: Sequence[str], title: Sequence[str], weights: TermWeights
) -> set[str]:
    """The set a view hashes."""
    if view.kind == "keywords":
        return keyword_set(content, title, view, weights)
    if view.kind == "shingles":
        return word_ngrams(list(toks), view.ngram)
    raise ValueError(f"unknown LSH view kind: {view.kind!r}")


def view_feature_sets(
    view: LSHView,
    tokens: Sequence[Sequence[str]],
    contents: Sequence[Sequence[str]],
    titles: Sequence[Sequence[str]],
    weights: TermWeights,
) -> list[set[str]]:
    """``view_features`` of every document of a batch (the same sets)."""
    if view.kind == "keywords":
        return keyword_sets(contents, titles, view, weights)
    if view.kind == "shingles":
        return [word_ngrams(list(toks), view.ngram) for toks in tokens]
    raise ValueError(f"unknown LSH view kind: {view.kind!r}")


# --- MinHash ---------------------------------------------------------------------------------
# datasketch's MinHash(num_perm, seed, scheme=...) with the hash function datasketch picks for the
# scheme (sha1_hash32, as MinHashOptions records; sha1_hash64 for affine64), computed for a batch
# of sets at once: every distinct feature is hashed once, permuted for all num_perm permutations
# in one array operation (affine32/affine64: MurmurHash3 finalizer, then a * h + b wrapping in
# 32/64 bits; legacy: (a * h + b) mod 2^61 - 1, masked to 32 bits), and each document's row is
# the column minimum over its features and the empty set's values. Bit-identical to datasketch
# (tests/test_fingerprint.py compares them for random sets under every scheme).

_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_MAX_HASH_32 = np.uint64((1 << 32) - 1)
# MurmurHash3 finalizer constants (datasketch applies it once before the affine permutations).
_FMIX = {
    32: (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35), np.uint32(16)),
    64: (
        np.uint64(33),
        np.uint64(0xFF51AFD7ED558CCD),
        np.uint64(33),
        np.uint64(0xC4CEB9FE1A85EC53),
        np.uint64(33),
    ),
}
# Permuted values per numpy pass (features x permutations): bounds the memory of one pass.
MINHASH_CELLS_PER_PASS = 1 << 22


@lru_cache(maxsize=16)
def _permutations(num_perm: int, seed: int, scheme: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """datasketch's permutation parameters (a, b) and initial (empty-set) hash values: taken
    from a MinHash it constructs, so they are drawn exactly as it draws them."""
    # Imported here (0.15 s with the scipy modules its LSH needs): the engine loads it while
    # documents are extracted (LATER_STAGE_MODULES), not before.
    from datasketch import MinHash

    m = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
    a, b, empty = (np.array(x) for x in (*m.permutations, m.hashvalues))
    for x in (a, b, empty):
        x.flags.writeable = False  # cached: shared by every call
    return a, b, empty


def _fmix(h: np.ndarray, width: int) -> np.ndarray:
    s1, m1, s2, m2, s3 = _FMIX[width]
    h = h ^ (h >> s1)
    h = h * m1
    h = h ^ (h >> s2)
    h = h * m2
    return h ^ (h >> s3)


def _feature_hashes(features: Sequence[str], scheme: str) -> np.ndarray:
    """sha1_hash32 (sha1_hash64 for affine64) of each feature's UTF-8 bytes: the little-endian
    first 4 (8) bytes of its SHA-1 digest."""
    size = 8 if scheme == "affine64" else 4
    sha1 = hashlib.sha1
    digests = b"".join([sha1(f.encode("utf-8")).digest()[:size] for f in features])
    return np.frombuffer(digests, dtype="<u8" if size == 8 else "<u4").astype(np.uint64)


def _permuted(hashes: np.ndarray, a: np.ndarray, b: np.ndarray, scheme: str) -> np.ndarray:
    """(features, num_perm) permuted hash values, as datasketch's update_batch computes them."""
    if scheme == "legacy":
        phv = (hashes[:, None] * a[None, :] + b[None, :]) % _MERSENNE_PRIME
        return np.bitwise_and(phv, _MAX_HASH_32)
    if scheme == "affine32":
        h = _fmix(hashes.astype(np.uint32), 32)
        return h[:, None] * a[None, :] + b[None, :]
    h = _fmix(hashes, 64)
    return h[:, None] * a[None, :] + b[None, :]


def minhash_signatures(feature_sets: Sequence[Collection[str]], options: MinHashOptions) -> np.ndarray:
    """One row of ``num_perm`` hash values per document (dtype of the datasketch scheme)."""
    if not isinstance(feature_sets, Sequence):
        feature_sets = list(feature_sets)
    if not feature_sets:
        return np.zeros((0, options.num_perm), dtype=np.uint32)
    a, b, empty = _permutations(options.num_perm, options.seed, options.scheme)
    out = np.repeat(empty[None, :], len(feature_sets), axis=0)
    per_pass = max(1, MINHASH_CELLS_PER_PASS // options.num_perm)
    start = 0
    while start < len(feature_sets):
        # Documents from ``start`` until about ``per_pass`` features are gathered.
        stop, gathered = start, 0
        while stop < len(feature_sets) and (gathered == 0 or gathered + len(feature_sets[stop]) <= per_pass):
            gathered += len(feature_sets[stop])
            stop += 1
        _fill_signatures(feature_sets[start:stop], a, b, options.scheme, empty, out[start:stop])
        start = stop
    return out


def _fill_signatures(
    feature_sets: Sequence[Collection[str]],
    a: np.ndarray,
    b: np.ndarray,
    scheme: str,
    empty: np.ndarray,
    out: np.ndarray,
) -> None:
    sizes = np.fromiter(map(len, feature_sets), dtype=np.int64, count=len(feature_sets))
    total = int(sizes.sum())
    if not total:
        return  # every set empty: rows stay at the initial values
    ids: defaultdict[str, int] = defaultdict(count().__next__)  # numbered as first seen
    flat = _ids_of(ids, feature_sets, total)
    permuted = _permuted(_feature_hashes(list(ids), scheme), a, b, scheme)
    widest = int(sizes.max())
    if widest * len(sizes) <= 2 * total:
        # Rows of equal width (the keyword view's sets are all top_k long): pad each document's
        # feature ids with an extra row holding the empty set's values, a no-op for the minimum.
        permuted = np.vstack([permuted, empty[None, :]])
        padded = np.full((len(sizes), widest), len(ids), dtype=np.int64)
        padded[np.arange(widest)[None, :] < sizes[:, None]] = flat
        np.minimum(out, permuted[padded].min(axis=1), out=out)
    else:
        nonempty = np.flatnonzero(sizes)
        starts = np.concatenate([[0], np.cumsum(sizes[nonempty])[:-1]])
        out[nonempty] = np.minimum(out[nonempty], np.minimum.reduceat(permuted[flat], starts, axis=0))


# Words per shingle of the relation labels and pair signals: 5-grams, as classic near-duplicate
# detection uses.
SHINGLE_WORDS = 5


def shingle_jaccard(toks_a: Sequence[str], toks_b: Sequence[str], n: int = SHINGLE_WORDS) -> float:
    """Exact Jaccard of two documents' word n-gram sets: how much of the wording is shared."""
    return set_jaccard(word_ngrams(list(toks_a), n), word_ngrams(list(toks_b), n))


def set_jaccard(a: set[str], b: set[str]) -> float:
    """Exact Jaccard of two sets (1.0 for two empty sets)."""
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 1.0
