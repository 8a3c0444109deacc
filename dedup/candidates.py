"""Candidates: pairs of documents that share an LSH bucket in at least one view.

Banding follows datasketch's MinHashLSH (band i = hash values ``i*rows .. (i+1)*rows``, same
buckets), but is computed for the whole batch at once, one band at a time: sort the band's
hash values with numpy and pair the documents of each bucket. That is several times faster
than inserting and querying LeanMinHash objects one by one, and proposes exactly the same
pairs. No pair is ever compared unless its signatures collide.

Memory is linear in the batch: a band is sorted on its own (``n`` hash values of ``rows``
columns, never a ``(bands * n, rows)`` key table), and the pairs of the bands seen so far are
kept as sorted unique int64 codes ``i * n + j``, merged in every few bands.

Result: a :class:`CandidatePairs`, arrays only (an ``(m, 2)`` int64 array of pairs, sorted,
and one boolean column per view saying which views proposed each pair).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dedup.config import LSHView, MinHashOptions

# Band pair codes are merged into the sorted unique set once this many are waiting: bounds the
# memory of duplicates (a near-copy pair collides in most of the 128 bands).
MERGE_EVERY_CODES = 1 << 24


@dataclass(frozen=True, eq=False)
class CandidatePairs:
    """Candidate pairs of one batch of ``n_docs`` documents.

    ``pairs``: ``(m, 2)`` int64, ``i < j`` in every row, rows unique and sorted by ``(i, j)``.
    ``views``: view names; ``proposed``: ``(m, len(views))`` bool, which views proposed each pair.
    """

    n_docs: int
    pairs: np.ndarray
    views: tuple[str, ...]
    proposed: np.ndarray

    def __len__(self) -> int:
        return len(self.pairs)

    @classmethod
    def empty(cls, n_docs: int, views: Sequence[str] = ()) -> CandidatePairs:
        return cls(n_docs, np.zeros((0, 2), np.int64), tuple(views), np.zeros((0, len(views)), bool))

    @classmethod
    def from_codes(cls, n_docs: int, codes_by_view: Mapping[str, np.ndarray]) -> CandidatePairs:
        """From each view's sorted unique codes ``i * n_docs + j``."""
        views = tuple(codes_by_view)
        if not views:
            return cls.empty(n_docs)
        arrays = list(codes_by_view.values())
        codes = arrays[0] if len(arrays) == 1 else sorted_unique(np.concatenate(arrays))
        proposed = np.zeros((len(codes), len(views)), bool)
        for k, view_codes in enumerate(arrays):
            proposed[np.searchsorted(codes, view_codes), k] = True
        pairs = np.empty((len(codes), 2), np.int64)
        if n_docs:
            np.divmod(codes, n_docs, out=(pairs[:, 0], pairs[:, 1]))
        return cls(n_docs, pairs, views, proposed)

    @classmethod
    def from_pairs(
        cls, n_docs: int, pairs: np.ndarray, views: Sequence[str], proposed: np.ndarray | None = None
    ) -> CandidatePairs:
        """From any ``(m, 2)`` pairs (either order, duplicates allowed: their views are OR-ed)."""
        pairs = np.asarray(pairs, np.int64).reshape(-1, 2)
        proposed = (
            np.ones((len(pairs), len(views)), bool)
            if proposed is None
            else np.asarray(proposed, bool).reshape(len(pairs), len(views))
        )
        if len(pairs) and (pairs.min() < 0 or pairs.max() >= n_docs or np.any(pairs[:, 0] == pairs[:, 1])):
            raise ValueError("pairs must be two different documents in range(n_docs)")
        low, high = pairs.min(axis=1), pairs.max(axis=1)
        codes, inverse = np.unique(low * n_docs + high, return_inverse=True)  # sorts (fast path)
        merged = np.zeros((len(codes), len(views)), bool)
        np.logical_or.at(merged, inverse.ravel(), proposed)
        out = np.empty((len(codes), 2), np.int64)
        if n_docs:
            np.divmod(codes, n_docs, out=(out[:, 0], out[:, 1]))
        return cls(n_docs, out, tuple(views), merged)

    @classmethod
    def from_dict(cls, n_docs: int, candidates: Mapping[tuple[int, int], Sequence[str]]) -> CandidatePairs:
        """From the ``{(i, j): (view names...)}`` form (views in order of first appearance)."""
        views = tuple(dict.fromkeys(v for names in candidates.values() for v in names))
        column = {v: k for k, v in enumerate(views)}
        pairs = np.array(list(candidates), np.int64).reshape(-1, 2)
        proposed = np.zeros((len(pairs), len(views)), bool)
        for row, names in enumerate(candidates.values()):
            proposed[row, [column[v] for v in names]] = True
        return cls.from_pairs(n_docs, pairs, views, proposed)

    def mask(self, view: str) -> np.ndarray:
        """Which pairs ``view`` proposed."""
        return self.proposed[:, self.views.index(view)]

    def view_names(self) -> list[tuple[str, ...]]:
        """The names of the views that proposed each pair, one tuple per pair."""
        if not len(self.pairs):
            return []
        combos, inverse = np.unique(self.proposed, axis=0, return_inverse=True)
        names = [tuple(v for v, on in zip(self.views, row, strict=True) if on) for row in combos.tolist()]
        return [names[k] for k in inverse.ravel().tolist()]

    def select(self, keep: np.ndarray) -> CandidatePairs:
        """The pairs where boolean ``keep`` is true (or at sorted indices ``keep``): still sorted."""
        keep = np.asarray(keep)
        if keep.dtype != bool:
            keep = np.sort(keep)
        return CandidatePairs(self.n_docs, self.pairs[keep], self.views, self.proposed[keep])

    def relabel(self, mapping: np.ndarray, n_docs: int) -> CandidatePairs:
        """Document ``d`` becomes ``mapping[d]`` (in ``range(n_docs)``); pairs re-ordered and
        re-sorted (no copy of the sort when ``mapping`` is increasing)."""
        mapped = np.asarray(mapping, np.int64)[self.pairs]
        if len(mapped) and np.all(mapped[:, 0] < mapped[:, 1]):
            codes = mapped[:, 0] * n_docs + mapped[:, 1]
            if np.all(codes[1:] > codes[:-1]):
                return CandidatePairs(n_docs, mapped, self.views, self.proposed)
        return CandidatePairs.from_pairs(n_docs, mapped, self.views, self.proposed)

    def to_dict(self) -> dict[tuple[int, int], tuple[str, ...]]:
        """The ``{(i, j): (view names...)}`` form, sorted (small batches and tests only)."""
        return dict(zip(map(tuple, self.pairs.tolist()), self.view_names(), strict=True))


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """``np.unique`` of a 1-d array by sorting (numpy 2.3+'s default hash-based ``np.unique``
    is many times slower on integer codes)."""
    ordered = np.sort(values, kind="stable")
    if len(ordered) < 2:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def find_sorted(sorted_keys: np.ndarray, values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """For each query, the value stored beside its key in ``sorted_keys`` (the first, if the
    key repeats), or -1 for a key that is not there."""
    out = np.full(len(queries), -1, dtype=np.int64)
    if not len(sorted_keys):
        return out
    position = np.searchsorted(sorted_keys, queries)
    inside = position < len(sorted_keys)
    found = np.flatnonzero(inside)
    found = found[sorted_keys[position[found]] == queries[found]]
    out[found] = values[position[found]]
    return out


def segment_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``start, start + 1, ..., start + length - 1`` for every segment, concatenated."""
    lengths = np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    offsets = np.cumsum(lengths) - lengths
    return np.repeat(np.asarray(starts, np.int64) - offsets, lengths) + np.arange(total, dtype=np.int64)


def _band_buckets(band: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Documents of one band sorted by their ``(n, rows)`` hash values: (order, bucket starts,
    bucket sizes). Exact equality of all the band's values, as datasketch's bucket keys."""
    n = len(band)
    if band.shape[1] == 1 and n < 1 << 32 and (band.dtype.itemsize <= 4 or int(band.max()) < 1 << 32):
        # One uint64 per document, hash value above document number: a plain sort (several
        # times faster than argsort) gives the documents by value, ties by document number.
        keys = band[:, 0].astype(np.uint64) << np.uint64(32)
        keys |= np.arange(n, dtype=np.uint64)
        keys.sort()
        order = (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)
        keys >>= np.uint64(32)
        new = keys[1:] != keys[:-1]
    elif band.shape[1] == 1:
        column = band[:, 0]
        order = np.argsort(column, kind="stable")
        ordered = column[order]
        new = ordered[1:] != ordered[:-1]
    else:
        order = np.lexsort(band.T[::-1])
        ordered = band[order]
        new = np.any(ordered[1:] != ordered[:-1], axis=1)
    starts = np.flatnonzero(np.concatenate(([True], new)))
    sizes = np.diff(np.append(starts, n))
    return order, starts, sizes


def size_cap(sizes: np.ndarray, max_bucket: int, max_pairs: int | None) -> int:
    """Largest bucket size kept in a band: at most ``max_bucket``, and (when ``max_pairs`` is
    set) the largest size whose buckets, with all smaller ones, give at most ``max_pairs`` pairs.
    Keeps a band's pairs near-linear in the batch: the buckets skipped first are the largest,
    words thousands of articles share, which say nothing about any one pair."""
    cap = int(max_bucket)
    if max_pairs is None:
        return cap
    useful = np.sort(sizes[(sizes >= 2) & (sizes <= cap)])
    if not len(useful):
        return cap
    cumulative = np.cumsum(useful * (useful - 1) // 2)
    if cumulative[-1] <= max_pairs:
        return cap
    # Buckets of one size are kept or skipped together: the cap is a size, never a position.
    over = int(np.searchsorted(cumulative, max_pairs, side="right"))
    return int(useful[over]) - 1


def _pairs_in_buckets(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray, n: int) -> np.ndarray:
    """Codes ``i * n + j`` (``i < j``) of every pair of documents inside the given buckets."""
    if not len(starts):
        return np.zeros(0, np.int64)
    # Each member pairs with the members after it in its bucket.
    member = np.repeat(starts, sizes) + (np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes))
    after = np.repeat(starts + sizes, sizes) - member - 1
    total = int(after.sum())
    first = np.repeat(member, after)
    second = first + 1 + (np.arange(total) - np.repeat(np.cumsum(after) - after, after))
    a, b = order[first].astype(np.int64), order[second].astype(np.int64)
    return np.minimum(a, b) * n + np.maximum(a, b)


def bucket_pairs(
    signatures: np.ndarray,
    bands: int,
    rows: int,
    max_bucket: int,
    max_band_pairs: int | None = None,
) -> np.ndarray:
    """Sorted unique codes ``i * n + j`` (``i < j``) of the document pairs sharing a bucket in any band.

    Buckets above ``max_bucket`` documents are skipped: a band whose minimum is a word thousands
    of articles share says nothing about any one pair, and its pairs grow quadratically. With
    ``max_band_pairs``, each band's cap is lowered further until the band proposes at most that
    many pairs (see ``size_cap``).
    """
    n = len(signatures)
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    merged = np.zeros(0, np.int64)
    waiting: list[np.ndarray] = []
    n_waiting = 0
    for band in range(bands):
        order, starts, sizes = _band_buckets(signatures[:, band * rows : (band + 1) * rows])
        cap = size_cap(sizes, max_bucket, max_band_pairs)
        usable = (sizes >= 2) & (sizes <= cap)
        codes = _pairs_in_buckets(order, starts[usable], sizes[usable], n)
        waiting.append(codes)
        n_waiting += len(codes)
        if n_waiting >= MERGE_EVERY_CODES:
            merged = sorted_unique(np.concatenate([merged, *waiting]))
            waiting, n_waiting = [], 0
    if waiting:
        merged = sorted_unique(np.concatenate([merged, *waiting]))
    return merged


def find_candidates(
    signatures: Mapping[str, np.ndarray],
    views: Sequence[LSHView],
    options: MinHashOptions,
    max_band_pairs_per_doc: float | None = None,
) -> CandidatePairs:
    """The candidate pairs of one batch: every pair sharing a bucket in any band of any view.

    ``max_band_pairs_per_doc`` (or a view's own ``max_band_pairs_per_doc`` when it has one)
    bounds each band's pairs to that many per document of the batch (see ``size_cap``).
    """
    codes: dict[str, np.ndarray] = {}
    n_docs = 0
    for view in views:
        if view.bands * view.rows > options.num_perm:
            raise ValueError(
                f"view {view.name!r}: {view.bands} x {view.rows} bands exceed {options.num_perm} perms"
            )
        rows = signatures[view.name]
        n_docs = len(rows)
        per_doc = getattr(view, "max_band_pairs_per_doc", max_band_pairs_per_doc)
        budget = None if per_doc is None else int(per_doc * n_docs)
        codes[view.name] = bucket_pairs(rows, view.bands, view.rows, view.max_bucket, budget)
    if views and len({len(signatures[v.name]) for v in views}) > 1:
        raise ValueError("every view needs one signature row per document")
    return CandidatePairs.from_codes(n_docs, codes)


def candidate_pairs(
    signatures: Mapping[str, np.ndarray], views: Sequence[LSHView], options: MinHashOptions
) -> dict[tuple[int, int], tuple[str, ...]]:
    """Deprecated dict form of :func:`find_candidates` (kept until the engines switch):
    ``{(i, j): (view names...)}`` with ``i < j``, sorted."""
    return find_candidates(signatures, views, options).to_dict()
