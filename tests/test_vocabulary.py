"""The compact vocabulary (dedup/vocabulary.py): words read back exactly, ids numbered as a dict
filled chunk by chunk would number them, and exact lookups even when hashes collide."""

from __future__ import annotations

import random
from collections import defaultdict
from itertools import count

import numpy as np
import pytest

from dedup.vocabulary import Vocabulary, VocabularyBuilder


def test_words_read_back_exactly_by_id_slice_and_lookup() -> None:
    words = ["minister", "zürich's", "东京", "\ud800lone", "", "u.s", "1,999"]
    vocabulary = Vocabulary.of(words)
    assert list(vocabulary) == words and len(vocabulary) == len(words)
    assert [vocabulary[i] for i in range(-len(words), len(words))] == words + words
    assert vocabulary[2:5] == words[2:5]
    assert vocabulary.words(np.array([6, 0, 0, 3])) == ["1,999", "minister", "minister", "\ud800lone"]
    assert vocabulary.words(np.array([], dtype=np.int64)) == []
    assert vocabulary.ids_of([*words, "absent", "Minister"]).tolist() == [*range(len(words)), -1, -1]
    assert vocabulary.get("u.s") == 5 and vocabulary.get("absent") is None
    assert not vocabulary.has_spaces and Vocabulary.of(["a b"]).has_spaces
    with pytest.raises(IndexError):
        vocabulary[len(words)]
    with pytest.raises(ValueError, match="NUL"):
        Vocabulary.of(["a\x00b"])


def _build_like_a_dict(seed: int) -> None:
    rng = random.Random(seed)
    pool = ["".join(rng.choices("abcdéf", k=rng.randint(1, 6))) for _ in range(3000)]
    reference: defaultdict[str, int] = defaultdict(count().__next__)
    builder = VocabularyBuilder()
    for _ in range(60):  # enough chunks for the sorted runs to merge several times
        chunk = list(dict.fromkeys(rng.choices(pool, k=rng.randint(0, 300))))
        assert builder.add(Vocabulary.of(chunk)).tolist() == [reference[w] for w in chunk]
    vocabulary = builder.build()
    assert list(vocabulary) == list(reference)
    queried = [*reference, "never", "seen", "zzzzzzz"]
    assert vocabulary.ids_of(queried).tolist() == [*reference.values(), -1, -1, -1]
    assert [vocabulary.get(w) for w in list(reference)[:50]] == list(reference.values())[:50]


def test_builder_numbers_words_as_a_dict_filled_chunk_by_chunk() -> None:
    _build_like_a_dict(7)


def test_colliding_hashes_still_give_one_id_per_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """Words sharing a hash (forced here, by hashing a word to its length; 64-bit collisions
    are astronomically rare) keep their own ids, in a chunk or across chunks, and are found
    exactly."""
    import dedup.vocabulary

    def length_hashes(words: list[str]) -> np.ndarray:
        return np.array([len(w) for w in words], dtype=np.uint64)

    monkeypatch.setattr(dedup.vocabulary, "word_hashes", length_hashes)
    _build_like_a_dict(8)
