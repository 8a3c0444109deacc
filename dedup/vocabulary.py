"""A vocabulary of millions of words held in a few arrays, not a string object and a dict entry
per word.

Distinct words grow with the corpus (4.4M at 100k articles of the benchmark corpus, where
every story brings its own names): as Python strings in a ``dict`` they took about 110 bytes
each (string, dict entry, int), as here about 30. Words
are stored as UTF-8, each followed by a NUL byte (tokens never hold one), so a list of them is
read back with one gather, one decode and one split. A word is found by its 64-bit xxh3 hash
and then compared byte for byte, so lookups are exact; words whose hashes collide (among 44M
words, one pair in about 20,000 runs) are kept apart in a small side table.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import xxhash

from dedup.candidates import find_sorted, segment_ranges

_ENCODING = ("utf-8", "surrogatepass")  # a text may hold a lone surrogate: keep it, do not fail
_SEPARATOR = "\x00"


def _utf8(word: str) -> bytes:
    return word.encode(*_ENCODING)


def word_hashes(words: Sequence[str]) -> np.ndarray:
    """The xxh3 64-bit hash of each word's UTF-8 bytes."""
    return np.fromiter((xxhash.xxh3_64_intdigest(_utf8(w)) for w in words), np.uint64, len(words))


def _encoded_words(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(the words' UTF-8 bytes, each followed by NUL; each word's start, then the end)."""
    joined = _SEPARATOR.join(words) + _SEPARATOR if len(words) else ""
    data = np.frombuffer(joined.encode(*_ENCODING), dtype=np.uint8)
    ends = np.flatnonzero(data == 0) + 1
    if len(ends) != len(words):
        raise ValueError("a vocabulary word holds a NUL character")
    return data, np.concatenate([np.zeros(1, np.int64), ends.astype(np.int64)])


class Vocabulary(Sequence[str]):
    """Distinct words by id (``vocabulary[i]``), each found by ``get`` / ``ids_of``.

    ``data`` holds the words' UTF-8 bytes, each followed by NUL; ``offsets`` each word's start,
    then the end. ``hashes`` (by id) are kept by vocabularies that will be merged
    (``VocabularyBuilder``); the lookup index (hashes sorted, the ids in that order) is built
    when first needed, or given by the builder.
    """

    def __init__(
        self,
        data: np.ndarray,
        offsets: np.ndarray,
        hashes: np.ndarray | None = None,
        index: tuple[np.ndarray, np.ndarray] | None = None,
        collided: dict[bytes, int] | None = None,
    ) -> None:
        self.data = data
        self.offsets = offsets
        self.hashes = hashes
        self._index = index
        self._collided = collided or {}

    @classmethod
    def of(cls, words: Sequence[str]) -> Vocabulary:
        """The vocabulary of distinct ``words``, numbered in their order."""
        data, offsets = _encoded_words(words)
        return cls(data, offsets, word_hashes(words))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return self.words(np.arange(len(self))[i])
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return _spelled(self, i % len(self)).decode(*_ENCODING)

    def __iter__(self) -> Iterator[str]:
        return iter(self.words(np.arange(len(self))))

    def words(self, ids: np.ndarray) -> list[str]:
        """The words with these ids, in order."""
        ids = np.asarray(ids, dtype=np.int64)
        if not len(ids):
            return []
        starts = self.offsets[ids]
        gathered = self.data[segment_ranges(starts, self.offsets[ids + 1] - starts)]
        return gathered.tobytes().decode(*_ENCODING).split(_SEPARATOR)[:-1]

    @property
    def has_spaces(self) -> bool:
        return bool(np.any(self.data == ord(" ")))

    def get(self, word: str, default: int | None = None) -> int | None:
        found = int(self.ids_of([word])[0])
        return default if found < 0 else found

    def ids_of(self, words: Sequence[str]) -> np.ndarray:
        """Each word's id, or -1 for a word not in the vocabulary."""
        sorted_hashes, ids_by_hash = self._lookup_index()
        out = find_sorted(sorted_hashes, ids_by_hash, word_hashes(words))
        hit = np.flatnonzero(out >= 0)
        spelled = self.words(out[hit])
        for k, word, stored in zip(hit.tolist(), (words[k] for k in hit.tolist()), spelled, strict=True):
            if word != stored:  # another word with the same hash
                out[k] = self._collided.get(_utf8(word), -1)
        return out

    def _lookup_index(self) -> tuple[np.ndarray, np.ndarray]:
        if self._index is None:
            hashes = self.hashes if self.hashes is not None else word_hashes(list(self))
            order = np.argsort(hashes, kind="stable")
            self._index = (hashes[order], order.astype(np.int32))
        return self._index


def _spelled(vocabulary: Vocabulary, i: int) -> bytes:
    """Word ``i``'s UTF-8 bytes (the side table's key)."""
    return vocabulary.data[vocabulary.offsets[i] : vocabulary.offsets[i + 1] - 1].tobytes()


class GrowingArray:
    """A numpy array grown in place (room doubled as needed): appended to, or zero-filled up
    to a size."""

    def __init__(self, dtype: type) -> None:
        self.array = np.zeros(1024, dtype=dtype)
        self.size = 0

    def _reserve(self, size: int) -> None:
        if size > len(self.array):
            grown = np.zeros(max(size, 2 * len(self.array)), dtype=self.array.dtype)
            grown[: self.size] = self.array[: self.size]
            self.array = grown

    def extend(self, values: np.ndarray) -> None:
        needed = self.size + len(values)
        self._reserve(needed)
        self.array[self.size : needed] = values
        self.size = needed

    def resize(self, size: int) -> None:
        """Grow to ``size`` items, the new ones zero."""
        self._reserve(size)
        self.size = max(self.size, size)

    def view(self) -> np.ndarray:
        return self.array[: self.size]

    def final(self) -> np.ndarray:
        """The items, in an array of their own (the spare room let go)."""
        return self.array[: self.size].copy()


class VocabularyBuilder:
    """One vocabulary from many (the tokenising workers' chunks): ``add`` numbers a chunk's
    new words after every word seen before, in the chunk's order, as a dict filled chunk by
    chunk would, and returns the chunk's ids in it.

    The hash index is a few sorted runs (a log-structured merge: a run is merged into the one
    before it once it is as large), so adding a chunk costs a few binary searches per word
    rather than a re-sort of everything seen.
    """

    def __init__(self) -> None:
        self._data = GrowingArray(np.uint8)
        self._offsets = GrowingArray(np.int64)  # each word's start, then the end
        self._offsets.extend(np.zeros(1, np.int64))
        self._runs: list[tuple[np.ndarray, np.ndarray]] = []  # (sorted hashes, their ids)
        self._collided: dict[bytes, int] = {}

    def __len__(self) -> int:
        return self._offsets.size - 1

    def add(self, chunk: Vocabulary) -> np.ndarray:
        """The id of each of ``chunk``'s words (chunks built by ``Vocabulary.of``)."""
        assert chunk.hashes is not None, "a chunk's vocabulary keeps its hashes"
        hashes = chunk.hashes
        # Searched in hash order: binary searches for sorted keys stay in nearby memory (about
        # 3x faster into a run of millions than keys in random order).
        hash_order = np.argsort(hashes)
        queries = hashes[hash_order]
        found_in_order = np.full(len(chunk), -1, dtype=np.int64)
        for sorted_hashes, run_ids in self._runs:  # a hash is in one run at most
            found = find_sorted(sorted_hashes, run_ids, queries)
            found_in_order = np.where(found >= 0, found, found_in_order)
        ids = np.empty(len(chunk), dtype=np.int64)
        ids[hash_order] = found_in_order
        misspelled = self._misspelled(chunk, ids)
        for k in misspelled.tolist():  # another word's hash: a word seen before is in the side table
            ids[k] = self._collided.get(_spelled(chunk, k), -1)
        new = np.flatnonzero(ids < 0)
        first = len(self)
        ids[new] = np.arange(first, first + len(new))
        starts = chunk.offsets[new]
        lengths = chunk.offsets[new + 1] - starts
        self._data.extend(chunk.data[segment_ranges(starts, lengths)])
        self._offsets.extend(self._data.size - lengths.sum() + np.cumsum(lengths))
        # A new word is found by its hash from now on, unless that hash is taken (by an older
        # word, or an earlier new word of this chunk): then by the side table.
        _, first_of_hash = np.unique(hashes[new], return_index=True)
        by_hash = np.zeros(len(new), dtype=bool)
        by_hash[first_of_hash] = True
        by_hash &= ~np.isin(new, misspelled)
        for k in new[~by_hash].tolist():
            self._collided[_spelled(chunk, k)] = int(ids[k])
        self._add_run(hashes[new[by_hash]], ids[new[by_hash]])
        return ids

    def _misspelled(self, chunk: Vocabulary, ids: np.ndarray) -> np.ndarray:
        """Positions of the chunk's words found by hash whose stored word is spelled otherwise
        (a hash collision, astronomically rare)."""
        known = np.flatnonzero(ids >= 0)
        if not len(known):
            return known
        chunk_starts = chunk.offsets[known]
        lengths = chunk.offsets[known + 1] - chunk_starts
        offsets = self._offsets.view()
        stored_starts = offsets[ids[known]]
        differ = lengths != offsets[ids[known] + 1] - stored_starts
        same_length = np.flatnonzero(~differ)
        if len(same_length):
            a = chunk.data[segment_ranges(chunk_starts[same_length], lengths[same_length])]
            b = self._data.view()[segment_ranges(stored_starts[same_length], lengths[same_length])]
            bounds = np.concatenate([[0], np.cumsum(lengths[same_length])[:-1]])
            differ[same_length] = np.add.reduceat((a != b).astype(np.int64), bounds) > 0
        return known[differ]

    def _add_run(self, hashes: np.ndarray, ids: np.ndarray) -> None:
        order = np.argsort(hashes, kind="stable")
        self._runs.append((hashes[order], ids[order].astype(np.int32)))  # token ids are int32 too
        while len(self._runs) > 1 and len(self._runs[-1][0]) >= len(self._runs[-2][0]):
            (h1, i1), (h2, i2) = self._runs[-2], self._runs.pop()
            hashes, ids = np.concatenate([h1, h2]), np.concatenate([i1, i2])
            order = np.argsort(hashes, kind="stable")  # equal hashes keep the older id first
            self._runs[-1] = (hashes[order], ids[order])

    def build(self) -> Vocabulary:
        """The vocabulary of every word added, with its lookup index."""
        hashes = np.concatenate([h for h, _ in self._runs]) if self._runs else np.zeros(0, np.uint64)
        ids = np.concatenate([i for _, i in self._runs]) if self._runs else np.zeros(0, np.int32)
        order = np.argsort(hashes, kind="stable")
        self._runs = []
        return Vocabulary(
            self._data.final(),
            self._offsets.final(),
            index=(hashes[order], ids[order]),
            collided=dict(self._collided),
        )
