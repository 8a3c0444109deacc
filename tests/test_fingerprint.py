from __future__ import annotations

import math
import random
import unicodedata
from collections import Counter

import numpy as np
import pytest
from datasketch import MinHash

from conftest import SEEDS
from dedup import fingerprint
from dedup import weights as weights_module
from dedup.candidates import candidate_pairs
from dedup.config import LSHView, MinHashOptions
from dedup.fingerprint import (
    keyword_set,
    keyword_sets,
    minhash_signatures,
    shingle_jaccard,
    view_feature_sets,
    view_features,
)
from dedup.languages import function_words
from dedup.text import STOPWORDS, tokens
from dedup.weights import (
    MIN_BACKGROUND_FREQUENCY,
    TermWeights,
    background_document_frequency,
    background_table,
    is_plain_word,
)


def test_signatures_are_datasketch_minhashes() -> None:
    options = MinHashOptions()
    sets = [{"a b c", "b c d", "c d e"}, {"x", "y"}]
    signatures = minhash_signatures(sets, options)
    for row, features in zip(signatures, sets, strict=True):
        reference = MinHash(num_perm=options.num_perm, seed=options.seed, scheme=options.scheme)
        reference.update_batch([f.encode("utf-8") for f in features])
        assert np.array_equal(row, reference.hashvalues)


def test_jaccard_estimate_tracks_the_true_value() -> None:
    rng = np.random.default_rng(7)
    universe = [f"w{i}" for i in range(2000)]
    a = set(rng.choice(universe, 600, replace=False).tolist())
    # sorted(): set order follows the per-process string hash seed, which must not pick the sets.
    b = set(sorted(a)[:400]) | set(rng.choice(universe, 200, replace=False).tolist())
    true = len(a & b) / len(a | b)
    num_perm = 256
    signatures = minhash_signatures([a, b], MinHashOptions(num_perm=num_perm))
    estimate = float(np.mean(signatures[0] == signatures[1]))
    # The estimator is binomial: 4 standard deviations is a bound a correct MinHash never misses.
    assert abs(estimate - true) < 4 * np.sqrt(true * (1 - true) / num_perm)


def test_lsh_proposes_similar_pairs_only() -> None:
    options = MinHashOptions()
    base = {f"t{i}" for i in range(100)}
    near = (base - {"t0", "t1", "t2"}) | {"u0", "u1", "u2"}
    other = {f"z{i}" for i in range(100)}
    view = LSHView(name="v", kind="shingles", bands=16, rows=8)
    pairs = candidate_pairs({"v": minhash_signatures([base, near, other], options)}, (view,), options)
    assert pairs == {(0, 1): ("v",)}


def test_shingle_jaccard_is_exact() -> None:
    a = "the quick brown fox jumps over the lazy dog".split()
    assert shingle_jaccard(a, a) == 1.0
    assert shingle_jaccard(a, [*a[:5], "cat"]) == 1 / 6  # 1 shared 5-gram; 5 + 2 - 1 distinct


# --- batch implementations: the same values as the per-document definitions -----------------


def _datasketch_row(features: set[str], num_perm: int, seed: int, scheme: str) -> np.ndarray:
    reference = MinHash(num_perm=num_perm, seed=seed, scheme=scheme)
    reference.update_batch([f.encode("utf-8") for f in features])
    return reference.hashvalues


def _random_feature_sets(rng: random.Random, count: int) -> list[set[str]]:
    alphabet = ["a", "b", "z", "é", "日", "\U0001f600", " ", "-", "0", "9"]
    vocabulary = ["".join(rng.choices(alphabet, k=rng.randint(0, 12))) for _ in range(400)]
    sets = [set(rng.sample(vocabulary, rng.choice([0, 0, 1, 2, 5, 25, 60, 200]))) for _ in range(count)]
    return [*sets, set(), {""}]


@pytest.mark.parametrize("scheme", ["affine32", "legacy", "affine64"])
@pytest.mark.parametrize(("num_perm", "seed"), [(128, 1), (7, 42)])
def test_minhash_signatures_equal_datasketch(
    scheme: str, num_perm: int, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bit-identical rows for random sets (empty ones included), in one pass or in many."""
    rng = random.Random(num_perm * 31 + seed)
    sets = _random_feature_sets(rng, 150)
    options = MinHashOptions(num_perm=num_perm, seed=seed, scheme=scheme)
    expected = np.vstack([_datasketch_row(s, num_perm, seed, scheme) for s in sets])
    for cells_per_pass in (fingerprint.MINHASH_CELLS_PER_PASS, 1, 50 * num_perm):
        monkeypatch.setattr(fingerprint, "MINHASH_CELLS_PER_PASS", cells_per_pass)
        signatures = minhash_signatures(sets, options)
        assert signatures.dtype == expected.dtype
        assert np.array_equal(signatures, expected)
    # A check that can fail: the rows differ between sets and are not the empty sentinel.
    assert len({row.tobytes() for row in expected}) > len(sets) // 2
    assert minhash_signatures([], options).shape == (0, num_perm)


def _reference_keyword_set(
    content: list[str], title: list[str], view: LSHView, weights: TermWeights
) -> set[str]:
    counts = Counter(content[: view.lead_words])
    scores = {t: (1.0 + math.log(c)) * weights.idf(t) for t, c in counts.items()}
    for t in set(title):
        scores[t] = scores.get(t, 0.0) + view.title_bonus
    ranked = sorted(scores, key=lambda t: (-scores[t], t))
    return set(ranked[: view.top_k])


@pytest.mark.parametrize("language", ["en", None])
def test_keyword_sets_equal_the_per_document_ranking(
    language: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many ties (words seen once, in as many documents, share a score): the alphabetical
    tie-break decides which of them make the top k, in the batch as in one document."""
    contents, titles = _keyword_sample()
    weights = TermWeights.fit(contents[:80], language=language)  # some words have no df at all
    for batch in (fingerprint.BATCH_DOCUMENTS, 7):
        monkeypatch.setattr(fingerprint, "BATCH_DOCUMENTS", batch)
        for view in KEYWORD_VIEWS:
            expected = [
                _reference_keyword_set(c, t, view, weights) for c, t in zip(contents, titles, strict=True)
            ]
            assert keyword_sets(contents, titles, view, weights) == expected
            assert [
                keyword_set(c, t, view, weights) for c, t in zip(contents, titles, strict=True)
            ] == expected
            assert view_feature_sets(view, contents, contents, titles, weights) == expected
    shingles = LSHView(name="s", kind="shingles", bands=1, rows=1, ngram=3)
    assert view_feature_sets(shingles, contents, contents, titles, weights) == [
        view_features(shingles, c, c, t, weights) for c, t in zip(contents, titles, strict=True)
    ]


KEYWORD_VIEWS = [
    LSHView(name="k", kind="keywords", bands=1, rows=1),
    LSHView(name="k", kind="keywords", bands=1, rows=1, top_k=3, lead_words=10, title_bonus=0.5),
    LSHView(name="k", kind="keywords", bands=1, rows=1, top_k=0),
    LSHView(name="k", kind="keywords", bands=1, rows=1, top_k=500, title_bonus=-1.0),
    LSHView(name="k", kind="keywords", bands=1, rows=1, top_k=3, lead_words=3, title_bonus=0.0),
]


@pytest.mark.parametrize("language", ["en", None])
@pytest.mark.parametrize("spilled", [False, True])
def test_keyword_sets_of_ids_equal_those_of_words(
    language: str | None, spilled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contents and titles held as ids, with weights by id: ranked on ids, the same sets as
    ranked on words, for a run of rows inside the documents too, with ids in memory or spilled."""
    from dedup.fingerprint import EncodedTokens
    from dedup.store import SpilledArray
    from dedup.vocabulary import Vocabulary
    from dedup.weights import background_document_frequencies

    contents, titles = _keyword_sample()
    words = sorted({w for lists in (contents, titles) for words in lists for w in words})
    random.Random(2).shuffle(words)  # ids in no alphabetical order: ties must be broken on words
    vocabulary = Vocabulary.of(words)

    def encoded(lists: list[list[str]]) -> EncodedTokens:
        ids = vocabulary.ids_of([w for words in lists for w in words]).astype(np.int32)
        if spilled:
            spill = SpilledArray(np.int32)
            spill.append(ids)
            ids = spill
        return EncodedTokens(vocabulary, np.concatenate([[0], np.cumsum([len(w) for w in lists])]), ids)

    fitted = TermWeights.fit(contents[:80], language=language)
    df = np.array([fitted.df.get(w, 0) for w in vocabulary], dtype=np.int64)
    background = background_document_frequencies(list(vocabulary), language) if language else None
    weights = TermWeights.from_vocabulary(vocabulary, df, background, 80, language=language)
    content_ids, title_ids = encoded(contents), encoded(titles)
    for batch in (fingerprint.BATCH_DOCUMENTS, 7):
        monkeypatch.setattr(fingerprint, "BATCH_DOCUMENTS", batch)
        for view in KEYWORD_VIEWS:
            expected = keyword_sets(contents, titles, view, fitted)
            assert keyword_sets(content_ids, title_ids, view, weights) == expected
            rows = (content_ids.rows(30, 97), title_ids.rows(30, 97))
            assert keyword_sets(*rows, view, weights) == expected[30:97]
    assert keyword_sets(content_ids.rows(5, 5), title_ids.rows(5, 5), KEYWORD_VIEWS[0], weights) == []


def _keyword_sample() -> tuple[list[list[str]], list[list[str]]]:
    rng = random.Random(5)
    words = [f"w{i:03d}" for i in range(300)] + ["the", "minister", "1999", "u.s", "zürich", "ß"]
    contents = [[rng.choice(words) for _ in range(rng.choice([0, 3, 40, 400]))] for _ in range(120)]
    # A word in every fitted document: IDF 0 without a language (-0.0, as max(-log(1.0), 0.0)),
    # so with no title bonus title-only words tie with it at 0 and the alphabet decides.
    contents = [[*c[:1], "common", *c[1:]] if i < 80 or c else c for i, c in enumerate(contents)]
    titles = [
        [rng.choice(words) for _ in range(rng.choice([0, 1, 6]))] + ["x-only"] * rng.randint(0, 1)
        for _ in contents
    ]
    return contents, titles


@pytest.mark.parametrize("terms_per_pass", [weights_module.IDF_TERMS_PER_PASS, 7])
def test_idf_array_equals_idf_bit_for_bit(terms_per_pass: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights_module, "IDF_TERMS_PER_PASS", terms_per_pass)
    rng = random.Random(9)
    terms = [
        "the",
        "minister",
        "zzqxv",
        "gollopridel",
        "7348",
        "9,082",
        "3.5",
        "u.s",
        "o'brien",
        "zürich",
        "x",
    ]
    terms += ["".join(rng.choices("abcdefghij", k=rng.randint(2, 9))) for _ in range(300)]
    docs = [rng.sample(terms, 20) for _ in range(60)]
    for language in ("en", None):
        fitted = TermWeights.fit(docs, language=language)  # fit weighs its terms with idf_array
        scalar = TermWeights(fitted.df, fitted.n_documents, language=language)
        batch = TermWeights(fitted.df, fitted.n_documents, language=language)
        queried = [*terms, "not-in-df", "zzqxv", "7348"]
        values = batch.idf_array(queried)
        assert values.dtype == np.float64
        expected = np.array([scalar.idf(t) for t in queried])
        assert values.tobytes() == expected.tobytes()
        assert np.array_equal(fitted.idf_array(queried), expected)
        assert batch.idf_array([]).shape == (0,)


def test_plain_words_outside_the_table_have_no_wordfreq_frequency() -> None:
    """The shortcut in weights.background_document_frequency: wordfreq answers 0.0 for every
    plain word (lower-case ASCII, or letters of a spaced script) it has no frequency for, and
    words it reads otherwise are not taken for plain."""
    import wordfreq

    table = background_table("en")
    rng = random.Random(2)
    words = {"".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(1, 14))) for _ in range(3000)}
    words |= {t for p in sorted(SEEDS.glob("*.txt")) for t in tokens(p.read_text(encoding="utf-8"))}
    # Foreign-language words as tokens() spells them: accents, Cyrillic, Greek, Hangul, Arabic...
    for language in ("de", "fr", "pl", "tr", "vi", "ru", "el", "he", "ar", "ko"):
        words |= {t for w in wordfreq.top_n_list(language, 2000) for t in tokens(w)}
    absent = sorted(w for w in words if w not in table and is_plain_word(w))
    assert len(absent) > 10000
    assert sum(not w.isascii() for w in absent) > 8000
    assert all(wordfreq.word_frequency(w, "en") == 0.0 for w in absent)
    # Words wordfreq reads as another word (case-folded, composed) have frequencies: not plain.
    for read_otherwise in ("straße", unicodedata.normalize("NFD", "한국")):
        assert read_otherwise not in table and not is_plain_word(read_otherwise)
        assert wordfreq.word_frequency(read_otherwise, "en") > 0.0
    for w in [*absent[:100], *absent[-100:]]:  # ASCII words sort first, then the others
        expected = -math.expm1(-max(wordfreq.word_frequency(w, "en"), MIN_BACKGROUND_FREQUENCY) * 300)
        assert background_document_frequency(w, "en") == expected


def test_wordfreq_lookups_read_the_loaded_background_table() -> None:
    """The table ``background_table`` loads is the one wordfreq's own lookups read (numbers,
    dotted words): not a second copy built on the first such lookup."""
    import wordfreq

    assert background_table("en") is wordfreq.get_frequency_dict("en", "best")


def test_numbers_are_weighed_as_wordfreq_weighs_them() -> None:
    """The shortcut in weights._wordfreq_frequency: a number is asked by its shape (groups
    other than four digits reduced to their first digit), and wordfreq answers the same."""
    import wordfreq

    from dedup.weights import _wordfreq_frequency

    rng = random.Random(5)

    def number() -> str:
        groups = [str(rng.randint(0, 10 ** rng.randint(1, 7))) for _ in range(rng.choice([1, 1, 2, 3]))]
        if rng.random() < 0.2:
            groups[0] = "0" + groups[0]
        return "".join(g + rng.choice(".,") for g in groups[:-1]) + groups[-1]

    numbers = {number() for _ in range(3000)} | {str(year) for year in range(1890, 2100, 7)}
    numbers |= {"7", "00", "0000", "2024", "1,000", "2.5", "10,000,000", "3.14159", "1.2.3"}
    wordfreq.word_frequency("0", "en")  # wordfreq's cache is cleared when full: not mid-check
    found = [wordfreq.word_frequency(n, "en") for n in sorted(numbers)]
    assert sum(f > MIN_BACKGROUND_FREQUENCY for f in found) > 50  # years and short numbers
    assert [_wordfreq_frequency(n, "en") for n in sorted(numbers)] == found


# --- documents tokenised once, as ids --------------------------------------------------------


def _encoded_sample(seed: int) -> tuple[list[tuple[str, str]], list]:
    from dedup.fingerprint import encode_documents

    rng = random.Random(seed)
    words = ["The", "minister", "said", "U.S.", "Zürich's", "1,999", "a", "of", "—", "x", "Paris", "7348"]
    words += ["".join(rng.choices("abcdefgh", k=rng.randint(2, 7))) for _ in range(40)]
    # No other language's function word ("de"): these documents are English (test_languages.py).
    words = [w for w in words if w.lower() in STOPWORDS or w.lower() not in function_words().languages_of]
    texts = [(" ".join(rng.choices(words, k=rng.choice([0, 1, 7, 60]))), rng.choice(["", "The Paris x"]))]
    texts += [
        (" ".join(rng.choices(words, k=rng.choice([0, 1, 7, 60]))), rng.choice(["Minister", "Ohgreb 2,024"]))
        for _ in range(30)
    ]
    return texts, [encode_documents(texts[k : k + 7]) for k in range(0, len(texts), 7)]


def test_encoded_documents_give_the_token_lists_content_words_and_frequencies() -> None:
    """Chunks encoded apart and merged: the same tokens, content words and document frequencies
    as tokenising each document; one string object per distinct word."""
    from dedup.fingerprint import encode_documents, merge_encoded
    from dedup.text import content_tokens

    texts, chunks = _encoded_sample(3)
    corpus = merge_encoded(chunks)
    all_tokens, contents, titles = corpus.tokens, corpus.content, corpus.titles
    assert len(all_tokens) == len(contents) == len(titles) == len(texts)
    assert list(all_tokens) == [tokens(text) for text, _ in texts]
    assert all_tokens[2:5] == [tokens(text) for text, _ in texts[2:5]]
    assert list(contents) == [content_tokens(text) for text, _ in texts]
    assert list(titles) == [content_tokens(title) for _, title in texts]
    fitted = TermWeights.fit(list(contents))
    frequencies = corpus.weights().df  # an array by term id, read as a mapping
    assert dict(frequencies) == dict(fitted.df)
    assert len(frequencies) == len(fitted.df) and frequencies.get("minister") == fitted.df["minister"]
    assert frequencies.get("never-seen", 0) == 0
    # One vocabulary behind the three views, each distinct word in it once.
    assert contents.vocabulary is all_tokens.vocabulary is titles.vocabulary
    distinct = {w for lists in (all_tokens, titles) for words in lists for w in words}
    assert sorted(all_tokens.vocabulary) == sorted(distinct)
    empty = merge_encoded([encode_documents([])])
    assert (len(empty.tokens), list(empty.content), list(empty.titles)) == (0, [], [])
    assert dict(empty.weights().df) == {}


@pytest.mark.parametrize("language", ["en", None])
def test_weights_read_by_id_equal_fitted_weights_bit_for_bit(
    language: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights from the merged ids, with the background frequencies of each chunk's new words
    (words recur across the chunks), weigh every term (by id, by word, in a batch, or a word
    outside the corpus) exactly as TermWeights.fit."""
    from dedup.fingerprint import merge_encoded

    _, chunks = _encoded_sample(5)
    corpus = merge_encoded(chunks, language)
    by_id = corpus.weights(language=language)
    fitted = TermWeights.fit(list(corpus.content), language=language)
    vocabulary = list(corpus.tokens.vocabulary)
    expected = np.array([fitted.idf(t) for t in vocabulary])
    assert by_id.idf_of_ids(np.arange(len(vocabulary))).tobytes() == expected.tobytes()
    queried = [*vocabulary, "never-seen", "31337", "zzqxv"]
    expected = np.array([fitted.idf(t) for t in queried])
    assert by_id.idf_array(queried).tobytes() == expected.tobytes()
    assert np.array([by_id.idf(t) for t in queried]).tobytes() == expected.tobytes()
    # Runs of terms that overlap, with a memo that overflows and is cleared as they come.
    monkeypatch.setattr(weights_module, "IDF_MEMO_TERMS", 6)
    by_id, rng = corpus.weights(language=language), random.Random(3)
    for _ in range(40):
        picked = rng.sample(range(len(queried)), rng.choice([1, 4, 6, 9]))
        assert by_id.idf_array([queried[k] for k in picked]).tolist() == expected[picked].tolist()
    with pytest.raises(ValueError, match="no vocabulary"):
        fitted.idf_of_ids(np.arange(2))
    if language is None:
        with pytest.raises(ValueError, match="read for None"):
            corpus.weights(language="en")


def test_shingle_jaccards_read_encoded_tokens_as_token_lists() -> None:
    from dedup.fingerprint import EncodedTokens
    from dedup.verify import shingle_jaccards

    rng = np.random.default_rng(4)
    vocabulary = [f"w{i}" for i in range(12)]
    lengths = rng.integers(0, 30, 25)
    ids = rng.integers(0, len(vocabulary), int(lengths.sum())).astype(np.int32)
    encoded = EncodedTokens(vocabulary, np.concatenate([[0], np.cumsum(lengths)]), ids)
    pairs = np.array([(a, b) for a in range(25) for b in range(a + 1, 25)])
    assert shingle_jaccards(encoded, pairs).tolist() == shingle_jaccards(list(encoded), pairs).tolist()
    # Words with spaces: "a b" + "c" and "a" + "b c" join to one 2-gram, as word_ngrams joins them.
    spaced = EncodedTokens(["a b", "c", "a", "b c"], np.array([0, 2, 4]), np.array([0, 1, 2, 3], np.int32))
    assert spaced.has_spaces and not encoded.has_spaces
    assert shingle_jaccards(spaced, np.array([[0, 1]]), n=2).tolist() == [1.0]
