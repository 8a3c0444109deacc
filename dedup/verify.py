"""Verify: score candidate pairs with corpus statistics and keep the ones that tell one story.

Each document is one vector: the L2-normalised IDF-weighted content words of its body plus
those of its title (sublinear tf), normalised again. A pair's similarity is the cosine of
the two vectors, halved when both publication dates are known and more than a few days apart
and cut further when months apart: on the labelled sets the date is the strongest single
signal separating two events about the same people (an ARI gain of 0.03-0.04).

Everything is built and scored with array operations (no Python call per token or per pair):

- term ids come from one dict pass over each block of documents (new terms numbered in order
  of first appearance: body words of every document, then title words), IDF is one array over
  that vocabulary, and counts come from sorting ``(document, term)`` codes;
- pair cosines gather one side's terms from a dense block of the other side's rows.

The float results are bit-identical to the earlier scipy formulation (``diags(1 / norms) @
counts``, ``body + title``, row-wise ``multiply(...).sum(axis=1)``, ``rows @ rows.T``): every
sum adds the same products in the same order with the same numpy reduction. The Verifier keeps
one CSR of the combined vectors (int32 term ids, float64 or, on request, float32 values) plus
each body term's count (uint16), from which body vectors are rebuilt for the pairs that need
them; the title vectors (a few terms per document) are kept whole.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import partial
from itertools import chain, count, islice

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from dedup.candidates import CandidatePairs, segment_ranges, sorted_unique
from dedup.config import PipelineOptions
from dedup.fingerprint import EncodedTokens, set_jaccard
from dedup.records import PairEdge
from dedup.text import word_ngrams
from dedup.weights import TermWeights

# What the engines store the combined vectors as: float32 halves their largest array (the
# verifier went from 480 to 354 MiB at 100k articles). Scores differ from float64's in the
# last float32 digit (they are written as float32 anyway); on the labelled sets and the 100k
# benchmark corpus the stories and additions are the same.
ENGINE_VECTOR_DTYPE = np.float32
# Documents whose tokens are turned into term ids and counts at once: bounds the temporaries
# (a Python list of the block's tokens, int64 codes) whatever the batch size.
BUILD_BLOCK_DOCS = 8192
# Pair scoring: the rows of up to this many distinct second documents (and at most this many of
# their terms) are spread into one dense block; each first document's terms are looked up there.
BLOCK_ROWS = 64
BLOCK_TERMS = 1 << 15
# Pair scoring runs on up to MAX_THREADS threads once there are PAIRS_PER_THREAD pairs a thread.
MAX_THREADS = max(
    1, min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
)
PAIRS_PER_THREAD = 20000
# Body cosines: pairs whose body rows are rebuilt at once (a row per document, ~300 terms).
BODY_PAIRS_PER_PASS = 4096
# Shingle Jaccard: documents whose word n-grams are compared at once.
SHINGLE_BLOCK_DOCS = 4096


def published_day(published: str | None) -> int | None:
    """Proleptic ordinal of an ISO date (the first 10 characters), or None."""
    if not published:
        return None
    try:
        return date.fromisoformat(published.strip()[:10]).toordinal()
    except ValueError:
        return None


# --- array helpers ----------------------------------------------------------------------------


def _rows_of(indptr: np.ndarray) -> np.ndarray:
    """The row of every stored entry of a CSR ``indptr``."""
    return np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))


def _row_sums(values: np.ndarray, indptr: np.ndarray) -> np.ndarray:
    """Each row's sum of its non-zero ``values``, in stored order, the way scipy sums a sparse
    product's rows (``np.add.reduceat`` over the stored non-zeros of non-empty rows)."""
    keep = values != 0
    kept = values[keep]
    bounds = np.concatenate(([0], np.cumsum(keep)))[indptr]
    out = np.zeros(len(indptr) - 1, dtype=np.float64)
    nonempty = bounds[1:] > bounds[:-1]
    if nonempty.any():
        out[nonempty] = np.add.reduceat(kept, bounds[:-1][nonempty])
    return out


def _reversed_rows(indptr: np.ndarray) -> np.ndarray:
    """Permutation of stored entries that reverses the order inside every row."""
    rows = _rows_of(indptr)
    return indptr[rows] + indptr[rows + 1] - 1 - np.arange(len(rows))


def _inverse_norms(squares_sum: np.ndarray) -> np.ndarray:
    norms = np.sqrt(squares_sum)
    norms[norms == 0] = 1.0
    return 1.0 / norms


# --- TF-IDF rows ------------------------------------------------------------------------------


class _Vocabulary:
    """Term ids in order of first appearance, and each term's IDF, grown block by block."""

    def __init__(self, weights: TermWeights, ids: dict[str, int] | None = None) -> None:
        self.weights = weights
        # A missing term gets the next id from the counter, inside the dict lookup itself: one
        # C-level pass over the tokens, with no Python call per token.
        self.ids: defaultdict[str, int] = defaultdict(count(len(ids or ())).__next__, ids or {})
        self._idf = [np.fromiter(map(weights.idf, self.ids), np.float64, len(self.ids))]

    def __len__(self) -> int:
        return len(self.ids)

    def term_ids(self, token_lists: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """(tokens per list, the term id of every token), new terms numbered as they appear."""
        lengths = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
        known = len(self.ids)
        flat = chain.from_iterable(token_lists)
        ids = np.fromiter(map(self.ids.__getitem__, flat), np.int64, int(lengths.sum()))
        if len(self.ids) > known:
            new = list(islice(self.ids, known, None))
            self._idf.append(np.fromiter(map(self.weights.idf, new), np.float64, len(new)))
        return lengths, ids

    @property
    def idf(self) -> np.ndarray:
        """IDF of every term, by id."""
        if len(self._idf) > 1:
            self._idf = [np.concatenate(self._idf)]
        return self._idf[0]


@dataclass
class _CountRows:
    """Canonical CSR of term counts (columns ascending in each row)."""

    indptr: np.ndarray  # int64, len rows + 1
    terms: np.ndarray  # int32
    counts: np.ndarray  # uint16, or uint32 when a count reaches 65536


def _count_rows(lengths: np.ndarray, ids: np.ndarray, width: int) -> _CountRows:
    rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    codes = np.sort(rows * max(width, 1) + ids)
    first = np.concatenate(([True], codes[1:] != codes[:-1])) if len(codes) else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, len(codes)))
    counts = counts.astype(np.uint16 if counts.max(initial=0) < 1 << 16 else np.uint32)
    unique = codes[starts]
    row, term = np.divmod(unique, max(width, 1))
    indptr = np.concatenate(([0], np.cumsum(np.bincount(row, minlength=len(lengths))))).astype(np.int64)
    return _CountRows(indptr, term.astype(np.int32), counts)


def _sublinear_tfidf(rows: _CountRows, idf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(values before normalisation, each row's 1 / L2 norm)."""
    raw = (1.0 + np.log(rows.counts.astype(np.float64))) * idf[rows.terms]
    return raw, _inverse_norms(_row_sums(raw * raw, rows.indptr))


def _normalised(rows: _CountRows, idf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """L2-normalised sublinear tf x idf rows without their zero entries: (indptr, terms,
    values, the kept entries' positions in ``rows``)."""
    raw, inverse = _sublinear_tfidf(rows, idf)
    values = raw * inverse[_rows_of(rows.indptr)]
    keep = np.flatnonzero(values != 0)
    indptr = np.concatenate(([0], np.cumsum(values != 0)))[rows.indptr]
    return indptr, rows.terms[keep], values[keep], keep


def tfidf_matrix(
    token_lists: Sequence[Sequence[str]], weights: TermWeights, vocabulary: dict[str, int] | None = None
) -> sparse.csr_matrix:
    """L2-normalised sublinear-tf x idf rows. Pass one ``vocabulary`` dict to several calls to
    put their columns in one space (then resize to the final vocabulary size).

    Entries are stored in descending column order inside each row, as ``diags(1 / norms) @
    counts`` stores them, so products with the matrix add their terms in the same order."""
    vocab = _Vocabulary(weights, vocabulary)
    lengths, ids = vocab.term_ids(token_lists)
    if vocabulary is not None:  # the caller's dict gets the new terms, numbered as here
        vocabulary.update(islice(vocab.ids.items(), len(vocabulary), None))
    width = max(len(vocab), 1)
    indptr, terms, values, _ = _normalised(_count_rows(lengths, ids, width), vocab.idf)
    order = _reversed_rows(indptr)
    return sparse.csr_matrix((values[order], terms[order], indptr), shape=(len(token_lists), width))


# --- pair scoring -----------------------------------------------------------------------------


def pair_dots(
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    pairs: np.ndarray,
    width: int | None = None,
    matmul_order: bool = False,
) -> np.ndarray:
    """Dot products of CSR rows for an (m, 2) array of index pairs, in float64.

    The products of the terms both rows hold are summed in the stored order of the first row's
    terms, with ``np.add.reduceat`` over the non-zero products: exactly what
    ``m[a].multiply(m[b]).sum(axis=1)`` computes. With ``matmul_order`` they are added one by
    one in the reverse of that order: what cell ``(a, b)`` of ``r @ r.T`` holds when ``r`` stores
    each row reversed (see ``Verifier.similarity_matrix``). Work is linear in the first rows'
    terms: the second rows are spread, a block at a time, into a dense buffer the first rows
    look up."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    out = np.zeros(len(pairs), dtype=np.float64)
    if not len(pairs) or not len(indices):
        return out
    indptr = np.asarray(indptr, dtype=np.int64)
    width = int(indices.max()) + 1 if width is None else width
    by_second = np.argsort(pairs[:, 1], kind="stable")
    ordered = pairs[by_second, 1]
    bounds = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    bounds = np.append(bounds, len(pairs))
    rows = ordered[bounds[:-1]]  # the distinct second documents
    row_terms = indptr[rows + 1] - indptr[rows]
    end_terms = np.cumsum(row_terms)
    # Blocks of second rows: at most BLOCK_ROWS rows and (unless one row has more) BLOCK_TERMS terms.
    blocks = []
    s = 0
    while s < len(rows):
        e = int(np.searchsorted(end_terms, end_terms[s] - row_terms[s] + BLOCK_TERMS, side="right"))
        e = max(s + 1, min(e, s + BLOCK_ROWS))
        blocks.append((s, e))
        s = e
    csr = (indptr, indices, data)

    def score(chunk: list[tuple[int, int]]) -> None:
        _score_blocks(csr, width, pairs[:, 0], by_second, bounds, rows, row_terms, chunk, out, matmul_order)

    threads = min(MAX_THREADS, len(blocks)) if len(pairs) >= PAIRS_PER_THREAD else 1
    if threads > 1:  # numpy releases the GIL in the gathers, sorts and sums: use the cores
        share = -(-len(blocks) // threads)
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(score, [blocks[k : k + share] for k in range(0, len(blocks), share)]))
    else:
        score(blocks)
    return out


_THREAD_STATE = threading.local()


def _term_lookup(width: int) -> np.ndarray:
    """A ``width``-long array of -1, one per thread, reused by every call: a story's few pairs
    are scored once per story, and filling a vocabulary-wide array each time grew with the
    corpus (10 ms a story at 100k articles). Callers restore every cell they set to -1."""
    lookup = getattr(_THREAD_STATE, "lookup", None)
    if lookup is None or len(lookup) < width:
        lookup = np.full(width, -1, dtype=np.int64)
        _THREAD_STATE.lookup = lookup
    return lookup


def _score_blocks(
    csr: tuple[np.ndarray, np.ndarray, np.ndarray],
    width: int,
    first: np.ndarray,
    by_second: np.ndarray,
    bounds: np.ndarray,
    rows: np.ndarray,
    row_terms: np.ndarray,
    blocks: list[tuple[int, int]],
    out: np.ndarray,
    matmul_order: bool,
) -> None:
    """``pair_dots`` for the pairs of some blocks of second rows (written into ``out``)."""
    indptr, indices, data = csr
    lookup = _term_lookup(width)  # term -> column of the dense block
    # Grown as blocks need it: the verifier's similarity of one story's few pairs is asked once
    # per story, and a buffer for the largest possible block would cost more than the pairs.
    buffer = np.zeros(0)
    try:
        for s, e in blocks:
            # The block: second rows s..e, one dense row each over the union of their terms plus one
            # column that stays zero (terms a first row holds and the block does not).
            positions = segment_ranges(indptr[rows[s:e]], row_terms[s:e])
            terms = indices[positions]
            block_terms = sorted_unique(terms)
            stride = len(block_terms) + 1
            if (e - s) * stride + 1 > len(buffer):
                buffer = np.zeros(max((e - s) * stride + 1, 2 * len(buffer)))
            lookup[block_terms] = np.arange(len(block_terms))
            cells = np.repeat(np.arange(e - s) * stride, row_terms[s:e]) + lookup[terms]
            buffer[cells] = data[positions]
            # Its pairs, each first row's terms in stored order. An absent term looks up column -1
            # of its row: the previous row's zero column (or the buffer's last cell), both zero.
            chosen = by_second[bounds[s] : bounds[e]]
            block_row = np.repeat(np.arange(e - s) * stride, np.diff(bounds[s : e + 1]))
            a = first[chosen]
            a_terms = indptr[a + 1] - indptr[a]
            a_positions = segment_ranges(indptr[a], a_terms)
            if matmul_order:
                a_positions = np.repeat(indptr[a] + indptr[a + 1] - 1, a_terms) - a_positions
            found = buffer[np.repeat(block_row, a_terms) + lookup[indices[a_positions]]]
            # The shared terms, and their products (a product can still underflow to zero).
            shared = np.flatnonzero(found)
            products = data[a_positions[shared]] * found[shared]
            ends = np.cumsum(a_terms)
            if matmul_order:  # one by one, as a sparse product's accumulator (bincount is sequential)
                pair_of = np.searchsorted(ends, shared, side="right")
                out[chosen] = np.bincount(pair_of, weights=products, minlength=len(a))
            else:
                nonzero = products != 0
                pair_of = np.searchsorted(ends, shared[nonzero], side="right")
                kept = np.bincount(pair_of, minlength=len(a))
                if len(pair_of):
                    starts = np.cumsum(kept) - kept
                    has = kept > 0
                    out[chosen[has]] = np.add.reduceat(products[nonzero], starts[has])
            buffer[cells] = 0.0
            lookup[block_terms] = -1
    except BaseException:
        _THREAD_STATE.lookup = None  # a failed block may have left cells set
        raise


def pair_cosines(matrix: sparse.csr_matrix, pairs: np.ndarray) -> np.ndarray:
    """Row-wise dot products for an (m, 2) array of index pairs."""
    return pair_dots(matrix.indptr, matrix.indices, matrix.data, pairs, matrix.shape[1])


# --- shingle Jaccard --------------------------------------------------------------------------

_MIX_1, _MIX_2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, in place."""
    x ^= x >> np.uint64(30)
    x *= _MIX_1
    x ^= x >> np.uint64(27)
    x *= _MIX_2
    x ^= x >> np.uint64(31)
    return x


# Entry numbers are packed into the low bits of each n-gram's hash, so one plain sort orders
# the n-grams by hash and, inside equal hashes, by entry (blocks have fewer entries than this).
_ENTRY_BITS = 24


def _gram_sort(grams: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(entries ordered so equal rows of ``grams`` are adjacent, equal rows in entry order; and
    whether each starts a new distinct row), exact: a 40-bit hash of each row with the entry
    number below it, sorted once (a 64-bit hash and an argsort for huge blocks); rows with
    equal hashes are compared, and the rare runs that mix rows (collisions) sorted by value."""
    m, n = grams.shape
    h = np.zeros(m, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h ^= grams[:, k].astype(np.uint64) + np.uint64(k + 1)
            _mix(h)
    if m < 1 << _ENTRY_BITS:
        mask = np.uint64((1 << _ENTRY_BITS) - 1)
        h &= ~mask
        h |= np.arange(m, dtype=np.uint64)
        h.sort()
        order = (h & mask).astype(np.int64)
        h >>= np.uint64(_ENTRY_BITS)
    else:  # more entries than the low bits hold (documents of tens of thousands of words)
        order = np.argsort(h, kind="stable")
        h = h[order]
    same_hash = np.flatnonzero(h[1:] == h[:-1])
    equal = np.all(grams[order[same_hash + 1]] == grams[order[same_hash]], axis=1)
    if not equal.all():  # runs of one hash holding several rows: order them by value
        run = np.concatenate(([0], np.cumsum(h[1:] != h[:-1])))
        mixed = np.isin(run, run[same_hash[~equal]])
        at = np.flatnonzero(mixed)
        inside = order[at]
        by_value = np.lexsort((inside, *[grams[inside, k] for k in reversed(range(n))], run[at]))
        order[at] = inside[by_value]
        equal = np.all(grams[order[same_hash + 1]] == grams[order[same_hash]], axis=1)
    new = np.ones(m, dtype=bool)
    new[same_hash[equal] + 1] = False
    return order, new


def shingle_jaccards(body_tokens: Sequence[Sequence[str]], pairs: np.ndarray, n: int = 5) -> np.ndarray:
    """Exact Jaccard of the word ``n``-gram sets of each pair's documents: the value of
    ``set_jaccard(word_ngrams(a, n), word_ngrams(b, n))`` (a text shorter than ``n`` is its set
    of words), from term-id tuples instead of joined strings.

    Documents are read in blocks of whole connected components of the pairs (each document
    once), at most SHINGLE_BLOCK_DOCS documents a block when components allow."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    out = np.zeros(len(pairs), dtype=np.float64)
    if not len(pairs):
        return out
    docs = sorted_unique(pairs.ravel())
    local = np.searchsorted(docs, pairs)
    graph = sparse.coo_matrix((np.ones(len(local)), (local[:, 0], local[:, 1])), shape=(len(docs),) * 2)
    _, component = connected_components(graph, directed=False)
    # Blocks: whole components, packed in order up to SHINGLE_BLOCK_DOCS documents; a larger
    # component's pairs go in runs of SHINGLE_BLOCK_DOCS // 2 (its documents read once a run).
    sizes = np.bincount(component)
    block_of = np.full(len(sizes), -1, dtype=np.int64)
    filled, block = 0, -1
    for c, size in enumerate(sizes.tolist()):
        if size > SHINGLE_BLOCK_DOCS:
            continue
        if block < 0 or filled + size > SHINGLE_BLOCK_DOCS:
            block, filled = block + 1, 0
        block_of[c] = block
        filled += size
    pair_block = block_of[component[local[:, 0]]]
    runs = [np.flatnonzero(pair_block == k) for k in range(block + 1)]
    large = np.flatnonzero(pair_block < 0)
    runs += [large[k : k + SHINGLE_BLOCK_DOCS // 2] for k in range(0, len(large), SHINGLE_BLOCK_DOCS // 2)]
    # Tokens already stored as ids (and no word with a space, see _block_jaccards) are read as
    # they are: no tokenising, no dict pass.
    encoded = isinstance(body_tokens, EncodedTokens) and not body_tokens.has_spaces
    for chosen in runs:
        members = sorted_unique(local[chosen].ravel())
        pairs_in_block = np.searchsorted(members, local[chosen])
        if encoded:
            lengths, token_ids = body_tokens.ids_of(docs[members])
            out[chosen] = _id_jaccards(lengths, token_ids.astype(np.int32), pairs_in_block, n)
        else:
            tokens = [body_tokens[d] for d in docs[members].tolist()]
            out[chosen] = _block_jaccards(tokens, pairs_in_block, n)
    return out


def _block_jaccards(token_lists: list[Sequence[str]], pairs: np.ndarray, n: int) -> np.ndarray:
    lengths = np.fromiter(map(len, token_lists), np.int64, len(token_lists))
    ids: defaultdict[str, int] = defaultdict(count().__next__)
    token_ids = np.fromiter(
        map(ids.__getitem__, chain.from_iterable(token_lists)), np.int64, int(lengths.sum())
    )
    if any(" " in t for t in ids):  # joined n-grams could then collide: compare them as strings
        sets = [word_ngrams(list(toks), n) for toks in token_lists]
        return np.array([set_jaccard(sets[a], sets[b]) for a, b in pairs.tolist()], dtype=np.float64)
    return _id_jaccards(lengths, token_ids.astype(np.int32), pairs, n)


def _id_jaccards(lengths: np.ndarray, token_ids: np.ndarray, pairs: np.ndarray, n: int) -> np.ndarray:
    """Exact n-gram Jaccards of a block's documents given as int32 token ids (equal ids, equal
    words; any numbering gives the same values)."""
    starts = np.cumsum(lengths) - lengths
    # Rows of n term ids: every n-gram of a text of n words or more; a shorter text's words as
    # rows (word, -1, ..., -1), which no real n-gram equals.
    long = lengths >= n
    counts = np.where(long, lengths - n + 1, lengths)  # rows per document, in document order
    offsets = np.cumsum(counts) - counts
    at_long = segment_ranges(offsets[long], counts[long])
    at_short = segment_ranges(offsets[~long], counts[~long])
    first = segment_ranges(starts[long], counts[long])
    # Padded to an even width, so that each row reads as whole uint64 words.
    grams = np.zeros((int(counts.sum()), n + n % 2), dtype=np.int32)
    for k in range(n):
        grams[at_long, k] = token_ids[first + k]
    grams[at_short, 0] = token_ids[segment_ranges(starts[~long], counts[~long])]
    grams[at_short, 1:n] = -1
    grams = grams.view(np.uint64)
    doc = np.repeat(np.arange(len(lengths)), counts)
    order, new = _gram_sort(grams)
    del grams
    # An n-gram's class numbers its distinct row; inside a class entries are in document order,
    # so a document's repeats of one n-gram are adjacent: keep each (document, class) once.
    in_doc = doc[order]
    keep = new.copy()
    keep[1:] |= in_doc[1:] != in_doc[:-1]
    classes = np.empty(len(order), dtype=np.int64)
    classes[order] = np.cumsum(new) - 1
    kept = np.zeros(len(order), dtype=bool)
    kept[order[keep]] = True
    # One binary row of n-gram classes per document (entries are in document order): an
    # intersection is a dot product.
    row, term = doc[kept], classes[kept]
    indptr = np.concatenate(([0], np.cumsum(np.bincount(row, minlength=len(lengths)))))
    n_classes = int(term.max()) + 1 if len(term) else 1
    shared = pair_dots(indptr, term, np.ones(len(term)), pairs, n_classes)
    sizes = np.diff(indptr).astype(np.float64)
    union = sizes[pairs[:, 0]] + sizes[pairs[:, 1]] - shared
    return np.divide(shared, union, out=np.ones(len(pairs)), where=union > 0)


# --- the verifier -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PairScores:
    similarity: np.ndarray
    body: np.ndarray
    title: np.ndarray
    days_apart: np.ndarray  # NaN where a date is unknown


# Block k of a batch: the bodies' and the titles' count rows of documents
# k * block_docs(n) onwards.
CountBlock = Callable[[int], tuple[_CountRows, _CountRows]]
# How a verifier computes its blocks of combined vectors: ``map_blocks(block, n_blocks)`` yields
# ``block(k)`` for k in range(n_blocks), in order (an engine may compute them on other cores).
BlockMap = Callable[[Callable[[int], "_Block"], int], Iterable["_Block"]]


def serial_blocks(block: Callable[[int], _Block], n_blocks: int) -> Iterator[_Block]:
    return map(block, range(n_blocks))


# Fewest documents a block: below this many a batch is one block.
MIN_BLOCK_DOCS = 1024
# Blocks a batch is cut into, if that keeps them between MIN_BLOCK_DOCS and BUILD_BLOCK_DOCS:
# enough for two cores to share.
BLOCKS_TO_SHARE = 4


def block_docs(n: int) -> int:
    """Documents per block of a batch of ``n``."""
    return min(BUILD_BLOCK_DOCS, max(MIN_BLOCK_DOCS, -(-n // BLOCKS_TO_SHARE)))


def _count_blocks(
    body_content: Sequence[Sequence[str]], title_content: Sequence[Sequence[str]], weights: TermWeights
) -> tuple[np.ndarray, CountBlock]:
    """(IDF by term id, the bodies' and the titles' count rows of block k). Terms are numbered
    in order of first appearance: the body words of every document, then title words (a
    title-only word after every body word, as in one vocabulary dict)."""
    vocab = _Vocabulary(weights)
    size = block_docs(len(body_content))
    blocks: tuple[list[_CountRows | None], list[_CountRows | None]] = ([], [])
    for lists, out in zip((body_content, title_content), blocks, strict=True):
        for start in range(0, len(lists), size):
            lengths, ids = vocab.term_ids(lists[start : start + size])
            out.append(_count_rows(lengths, ids, len(vocab)))

    def block(k: int) -> tuple[_CountRows, _CountRows]:
        body, title = blocks[0][k], blocks[1][k]
        blocks[0][k] = blocks[1][k] = None  # let go once read
        assert body is not None and title is not None, "a block is read once"
        return body, title

    return vocab.idf, block


def _same_vocabulary(
    body_content: Sequence[Sequence[str]], title_content: Sequence[Sequence[str]], weights: TermWeights
) -> bool:
    """Whether bodies and titles are ids into the vocabulary the weights weigh by id."""
    return (
        isinstance(body_content, EncodedTokens)
        and isinstance(title_content, EncodedTokens)
        and body_content.vocabulary is title_content.vocabulary
        and weights.vocabulary is body_content.vocabulary
    )


# Ids read at a time when ordering terms by first appearance: bounds the temporaries.
APPEARANCE_BLOCK_IDS = 1 << 22


def _first_appearances(sequences: Sequence[np.ndarray], size: int) -> np.ndarray:
    """The distinct values (in ``range(size)``) of the concatenated ``sequences``, in order of
    first appearance; a block at a time, each block keeping the values no earlier block held.

    No sort: position i of a block is its value's first occurrence when the smallest position
    of that value (``np.minimum.at``, exact whatever the order it visits) is i. At 10k articles
    that is 0.02 s where ``np.unique(return_index=True)`` took 0.3."""
    seen = np.zeros(size, dtype=bool)
    unset = np.int32(APPEARANCE_BLOCK_IDS)  # past every position of a block
    first = np.full(size, unset, dtype=np.int32)
    parts = [np.zeros(0, dtype=np.int32)]  # term ids are int32, as the tokens' ids
    for values in sequences:
        for start in range(0, len(values), APPEARANCE_BLOCK_IDS):
            block = np.asarray(values[start : start + APPEARANCE_BLOCK_IDS])
            positions = np.arange(len(block), dtype=np.int32)
            np.minimum.at(first, block, positions)
            firsts = block[first[block] == positions]  # each value once, in order of appearance
            first[block] = unset
            new = firsts[~seen[firsts]]
            seen[new] = True
            parts.append(new.astype(np.int32))
    return np.concatenate(parts)


def _encoded_count_blocks(
    body_content: EncodedTokens, title_content: EncodedTokens, weights: TermWeights
) -> tuple[np.ndarray, CountBlock]:
    """``_count_blocks`` of documents already held as ids: the same term numbering (first
    appearance, bodies then titles), found by sorting the ids rather than a dict lookup a
    word, and the same IDF, read by id."""
    in_order = _first_appearances((body_content.ids, title_content.ids), len(body_content.vocabulary))
    renumbered = np.zeros(len(body_content.vocabulary), dtype=np.int32)
    renumbered[in_order] = np.arange(len(in_order))
    width = len(in_order)
    size = block_docs(len(body_content))

    def rows(view: EncodedTokens, start: int) -> _CountRows:
        bounds = view.indptr[start : start + size + 1]
        return _count_rows(np.diff(bounds), renumbered[view.ids[bounds[0] : bounds[-1]]], width)

    def block(k: int) -> tuple[_CountRows, _CountRows]:
        # Counted a block at a time as the verifier is built: never every block at once.
        return rows(body_content, k * size), rows(title_content, k * size)

    return weights.idf_of_ids(in_order), block


class Verifier:
    """Scores pairs of one batch. Build once per batch; score any set of pairs.

    ``dtype`` is the storage of the combined vectors: float64 (default, exact) or float32
    (half the memory; every sum is still taken in float64 over the stored values)."""

    def __init__(
        self,
        body_content: Sequence[Sequence[str]],
        title_content: Sequence[Sequence[str]],
        published: Sequence[str | None],
        weights: TermWeights,
        options: PipelineOptions,
        dtype: type = np.float64,
        map_blocks: BlockMap = serial_blocks,
    ) -> None:
        n = len(body_content)
        if len(title_content) != n:
            raise ValueError("one title per document")
        if _same_vocabulary(body_content, title_content, weights):
            idf, blocks = _encoded_count_blocks(body_content, title_content, weights)  # type: ignore[arg-type]
            body_lengths = np.diff(body_content.indptr)  # type: ignore[attr-defined]
            title_words = len(title_content.ids)  # type: ignore[attr-defined]
        else:
            idf, blocks = _count_blocks(body_content, title_content, weights)
            body_lengths = np.fromiter(map(len, body_content), dtype=np.int64, count=n)
            title_words = sum(map(len, title_content))
        self.vocabulary_size = width = max(len(idf), 1)
        self.idf = idf
        # No count exceeds its body's length, and no row has more entries than its words.
        count_dtype = np.uint16 if body_lengths.max(initial=0) < 1 << 16 else np.uint32
        bound = int(body_lengths.sum()) + title_words
        # Allocated untouched (pages are committed as blocks fill them), trimmed at the end.
        indices = np.empty(bound, dtype=np.int32)
        data = np.empty(bound, dtype=dtype)
        counts = np.empty(bound, dtype=count_dtype)
        indptr = np.zeros(n + 1, dtype=np.int64)
        body_inverse = np.ones(n)
        title_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        filled = 0
        size = block_docs(n)
        combined = map_blocks(partial(_combined_block, blocks, idf, options.title_weight), -(-n // size))
        for k, block in enumerate(combined):
            start, rows = k * size, len(block.indptr) - 1
            stop = filled + len(block.terms)
            indices[filled:stop] = block.terms
            data[filled:stop] = block.values
            counts[filled:stop] = block.counts
            indptr[start + 1 : start + rows + 1] = filled + block.indptr[1:]
            body_inverse[start : start + rows] = block.body_inverse
            title_parts.append(block.title)
            filled = stop
        for array in (indices, data, counts):
            array.resize(filled, refcheck=False)
        # Combined: per row, title-only terms ascending, then body terms ascending (the order the
        # earlier scipy formulation summed a pair's products in); counts > 0 mark body terms.
        self.combined = sparse.csr_matrix((data, indices, indptr), shape=(n, width))
        self.body_counts = counts
        self.body_inverse_norms = body_inverse
        self.title = _stack_rows(title_parts, n, width)
        days = [published_day(p) for p in published]
        self.days = np.array([np.nan if d is None else d for d in days], dtype=np.float64)
        self.options = options
        self.body_guarded = body_lengths >= options.body_guard_words

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors (for sizing runs)."""
        arrays = (
            self.combined.data,
            self.combined.indices,
            self.combined.indptr,
            self.body_counts,
            self.body_inverse_norms,
            self.title.data,
            self.title.indices,
            self.title.indptr,
            self.idf,
            self.days,
        )
        return sum(a.nbytes for a in arrays)

    def body_rows(self, docs: np.ndarray) -> sparse.csr_matrix:
        """The L2-normalised body vectors of ``docs`` (terms ascending), rebuilt exactly from the
        stored counts."""
        indptr, terms, values = self._body_arrays(docs)
        return sparse.csr_matrix((values, terms, indptr), shape=(len(indptr) - 1, self.combined.shape[1]))

    def body_cosines(self, pairs: np.ndarray) -> np.ndarray:
        """Body cosine of each pair (``pair_cosines`` over ``body_rows``, without building a
        scipy matrix: canonicalisation asks for a story's few pairs at a time). The body rows
        are rebuilt for BODY_PAIRS_PER_PASS pairs at a time: rebuilt for all pairs at once,
        they took 500 MiB more at 100k articles, growing with the corpus."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        out = np.zeros(len(pairs), dtype=np.float64)
        for start in range(0, len(pairs), BODY_PAIRS_PER_PASS):
            chosen = pairs[start : start + BODY_PAIRS_PER_PASS]
            docs = sorted_unique(chosen.ravel())
            indptr, terms, values = self._body_arrays(docs)
            out[start : start + len(chosen)] = pair_dots(
                indptr, terms, values, np.searchsorted(docs, chosen), self.combined.shape[1]
            )
        return out

    def _body_arrays(self, docs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        docs = np.asarray(docs, dtype=np.int64)
        indptr = self.combined.indptr
        lengths = indptr[docs + 1] - indptr[docs]
        positions = segment_ranges(indptr[docs], lengths)
        counts = self.body_counts[positions]
        is_body = counts > 0
        positions, counts = positions[is_body], counts[is_body]
        row_of = np.repeat(np.arange(len(docs)), lengths)[is_body]
        terms = self.combined.indices[positions]
        values = (1.0 + np.log(counts.astype(np.float64))) * self.idf[terms]
        values = values * self.body_inverse_norms[docs][row_of]
        local = np.concatenate(([0], np.cumsum(np.bincount(row_of, minlength=len(docs)))))
        return local, terms, values

    def _cosines(self, pairs: np.ndarray) -> np.ndarray:
        return pair_cosines(self.combined, pairs)

    def scores(self, pairs: np.ndarray, cosine: np.ndarray | None = None) -> PairScores:
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        cosine = self._cosines(pairs) if cosine is None else cosine
        apart = np.abs(self.days[pairs[:, 0]] - self.days[pairs[:, 1]])
        body = self.body_cosines(pairs)
        similarity = self._guarded(pairs, cosine * self.date_factor(apart), body)
        return PairScores(similarity, body, pair_cosines(self.title, pairs), apart)

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
        docs = np.asarray(docs, dtype=np.int64)
        indptr = self.combined.indptr
        lengths = indptr[docs + 1] - indptr[docs]
        local_indptr = np.concatenate(([0], np.cumsum(lengths)))
        # The product adds each cell's terms in the rows' stored order: reversed, as the scipy
        # formulation stored them (body terms descending, then title-only terms descending).
        ends = np.repeat(indptr[docs] + indptr[docs + 1] - 1, lengths)
        positions = ends - segment_ranges(indptr[docs], lengths)
        terms = self.combined.indices[positions]
        # Only the component's own terms as columns: the product's cost stays with the component
        # (a renumbering that keeps the column order changes no sum).
        columns = sorted_unique(terms)
        rows = sparse.csr_matrix(
            (
                self.combined.data[positions].astype(np.float64),
                np.searchsorted(columns, terms),
                local_indptr,
            ),
            shape=(len(docs), max(len(columns), 1)),
        )
        cosine = (rows @ rows.T).toarray()
        similarity = cosine * self.date_factor(np.abs(self.days[docs][:, None] - self.days[docs][None, :]))
        return self._guarded_matrix(docs, similarity)

    def _guarded_matrix(self, docs: np.ndarray, similarity: np.ndarray) -> np.ndarray:
        """``_guarded`` for the dense similarities among ``docs``."""
        i, j = np.nonzero(similarity)
        pairs = np.stack([docs[i], docs[j]], axis=1)
        similarity[i, j] = self._guarded(pairs, similarity[i, j])
        return similarity

    def similarity_matrices(self, groups: Sequence[np.ndarray]) -> list[np.ndarray]:
        """``[similarity_matrix(g) for g in groups]``, the same values, scored together: for many
        small groups (clustering's small components) one pass instead of a product each."""
        groups = [np.asarray(g, dtype=np.int64) for g in groups]
        if not groups:
            return []
        sizes = np.array([len(g) for g in groups])
        members = np.concatenate(groups)
        # Every ordered pair (diagonal included) of every group, row by row.
        offsets = np.repeat(np.cumsum(sizes) - sizes, sizes * sizes)
        within = np.arange(int((sizes * sizes).sum())) - np.repeat(
            np.cumsum(sizes * sizes) - sizes * sizes, sizes * sizes
        )
        k = np.repeat(sizes, sizes * sizes)
        pairs = np.stack([members[offsets + within // k], members[offsets + within % k]], axis=1)
        cosine = pair_dots(
            self.combined.indptr,
            self.combined.indices,
            self.combined.data,
            pairs,
            self.combined.shape[1],
            True,
        )
        values = cosine * self.date_factor(np.abs(self.days[pairs[:, 0]] - self.days[pairs[:, 1]]))
        values = self._guarded(pairs, values)
        bounds = np.cumsum(sizes * sizes)[:-1]
        return [
            block.reshape(len(g), len(g)) for block, g in zip(np.split(values, bounds), groups, strict=True)
        ]

    def similarity(self, pairs: np.ndarray) -> np.ndarray:
        """The verifier similarity alone (what clustering needs)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        apart = np.abs(self.days[pairs[:, 0]] - self.days[pairs[:, 1]])
        return self._guarded(pairs, self._cosines(pairs) * self.date_factor(apart))

    def _guarded(
        self, pairs: np.ndarray, similarity: np.ndarray, body: np.ndarray | None = None
    ) -> np.ndarray:
        """``similarity`` with the body guard applied (options.min_body_similarity): pairs of two
        long bodies that share almost no body vocabulary score 0. ``body``: their body cosines,
        if known; otherwise computed for the pairs the guard can change."""
        if self.options.min_body_similarity <= 0 or not len(pairs):
            return similarity
        both_long = self.body_guarded[pairs[:, 0]] & self.body_guarded[pairs[:, 1]] & (similarity > 0)
        check = np.flatnonzero(both_long)
        if not len(check):
            return similarity
        body_check = self.body_cosines(pairs[check]) if body is None else body[check]
        similarity = similarity.copy()
        similarity[check[body_check < self.options.min_body_similarity]] = 0.0
        return similarity

    def verify(
        self,
        candidates: CandidatePairs | Mapping[tuple[int, int], Sequence[str]],
        body_tokens: Sequence[Sequence[str]],
        shingles: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> list[PairEdge]:
        """The candidate pairs whose similarity reaches the threshold, with their signals.

        ``candidates``: a :class:`CandidatePairs`, or the ``{(i, j): (view names...)}`` form
        (edges then come in its order). ``shingles``: the word 5-gram Jaccards of an array of
        pairs (default: ``shingle_jaccards`` over ``body_tokens``, here; an engine may compute
        the same values on several cores)."""
        if isinstance(candidates, CandidatePairs):
            pairs = candidates.pairs
        else:
            pairs = np.array(list(candidates), dtype=np.int64).reshape(-1, 2)
        apart = np.abs(self.days[pairs[:, 0]] - self.days[pairs[:, 1]])
        cosine = self._cosines(pairs)
        # The signals beyond the similarity are only kept for verified pairs: score those only.
        # The body guard can only lower a score, so it is applied (in ``scores``, with the body
        # cosines it reports) to the pairs already above the threshold.
        above = np.flatnonzero(cosine * self.date_factor(apart) >= self.options.threshold)
        s = self.scores(pairs[above], cosine[above])
        verified = s.similarity >= self.options.threshold
        s = PairScores(s.similarity[verified], s.body[verified], s.title[verified], s.days_apart[verified])
        keep = above[verified]
        pairs = pairs[keep]
        if isinstance(candidates, CandidatePairs):
            views = candidates.select(keep).view_names()
        else:
            views = [tuple(candidates[pair]) for pair in map(tuple, pairs.tolist())]
        jaccards = shingles(pairs) if shingles is not None else shingle_jaccards(body_tokens, pairs)
        days = [None if np.isnan(d) else int(d) for d in s.days_apart.tolist()]
        return [
            PairEdge(a, b, sim, body, title, jaccard, apart_days, names)
            for (a, b), sim, body, title, jaccard, apart_days, names in zip(
                pairs.tolist(),
                s.similarity.tolist(),
                s.body.tolist(),
                s.title.tolist(),
                jaccards.tolist(),
                days,
                views,
                strict=True,
            )
        ]


@dataclass
class _Block:
    """One block of documents' combined vectors and what else the Verifier keeps of them."""

    indptr: np.ndarray
    terms: np.ndarray
    values: np.ndarray
    counts: np.ndarray  # body term counts, 0 for title-only terms
    body_inverse: np.ndarray
    title: tuple[np.ndarray, np.ndarray, np.ndarray]  # (indptr, terms, values), terms ascending


def _combined_block(count_block: CountBlock, idf: np.ndarray, title_weight: float, k: int) -> _Block:
    """Block k of the combined vectors."""
    return _combine(*count_block(k), idf, title_weight)


def _combine(body: _CountRows, title: _CountRows, idf: np.ndarray, title_weight: float) -> _Block:
    """L2(L2(body) + title_weight * L2(title)) of a block, entries per row: title-only terms
    ascending, then body terms ascending. Every value and sum is the one the scipy formulation
    (``diags @``, ``+``, ``multiply().sum(axis=1)``) computes, in its order."""
    n = len(body.indptr) - 1
    b_raw, b_inverse = _sublinear_tfidf(body, idf)
    b_values = b_raw * b_inverse[_rows_of(body.indptr)]
    b_keep = b_values != 0  # scipy's product drops zeros: such a term is not in the body
    b_indptr = np.concatenate(([0], np.cumsum(b_keep)))[body.indptr]
    b_terms, b_values, b_counts = body.terms[b_keep], b_values[b_keep], body.counts[b_keep]
    t_indptr, t_terms, t_values, _ = _normalised(title, idf)
    weighted = t_values * title_weight
    # Which title entries hit a body term of their row: match (row, term) codes.
    width = int(max(b_terms.max(initial=0), t_terms.max(initial=0))) + 1
    b_codes = _rows_of(b_indptr) * width + b_terms
    t_codes = _rows_of(t_indptr) * width + t_terms
    at = np.searchsorted(b_codes, t_codes)
    hit = at < len(b_codes)
    hit[hit] = b_codes[at[hit]] == t_codes[hit]
    raw_body = b_values.copy()
    raw_body[at[hit]] = b_values[at[hit]] + weighted[hit]
    only = ~hit  # title-only terms
    t_rows = _rows_of(t_indptr)
    n_only = np.bincount(t_rows[only], minlength=n)
    n_body = np.diff(b_indptr)
    indptr = np.concatenate(([0], np.cumsum(n_only + n_body)))
    # Positions: a row's title-only entries first, then its body entries.
    only_rank = np.arange(int(only.sum())) - np.repeat(np.cumsum(n_only) - n_only, n_only)
    only_pos = indptr[:-1][t_rows[only]] + only_rank
    body_pos = segment_ranges(indptr[:-1] + n_only, n_body)
    nnz = int(indptr[-1])
    terms = np.empty(nnz, dtype=np.int32)
    raw = np.empty(nnz, dtype=np.float64)
    counts = np.zeros(nnz, dtype=np.int64)
    terms[only_pos], raw[only_pos] = t_terms[only], weighted[only]
    terms[body_pos], raw[body_pos], counts[body_pos] = b_terms, raw_body, b_counts
    # The norm adds the squares in the reverse of this order (body descending, then title-only
    # descending), as scipy's element-wise product of the unsorted sum stored them.
    reverse = _reversed_rows(indptr)
    squares = raw[reverse] * raw[reverse]
    inverse = _inverse_norms(_row_sums(squares, indptr))
    values = raw * inverse[_rows_of(indptr)]
    return _Block(indptr, terms, values, counts, b_inverse, (t_indptr, t_terms, t_values))


def _stack_rows(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]], n: int, width: int
) -> sparse.csr_matrix:
    indptrs, terms, values = [], [], []
    offset = 0
    for indptr, t, v in parts:
        indptrs.append(offset + indptr[1:])
        terms.append(t)
        values.append(v)
        offset += len(t)
    indptr = np.concatenate([np.zeros(1, np.int64), *indptrs]) if parts else np.zeros(n + 1, np.int64)
    return sparse.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0),
            np.concatenate(terms) if terms else np.zeros(0, np.int32),
            indptr,
        ),
        shape=(n, width),
    )
