from __future__ import annotations

import random
import unicodedata

import pytest
import regex

from conftest import SEEDS
from dedup.facts import extract_facts
from dedup.text import (
    _EDGE,
    _NON_ASCII_SPACES,
    _SPACE,
    _TOKEN,
    content_tokens,
    normalize,
    split_sentences,
    tokens,
    word_ngrams,
)


def test_sentence_splitter_handles_news_abbreviations_and_quotes() -> None:
    text = (
        'The U.S. envoy met Mr. Smith in Washington on Jan. 5. "We agreed," he said. '
        "John F. Kennedy Airport reopened at 3 p.m. Officials were relieved."
    )
    assert split_sentences(text) == [
        "The U.S. envoy met Mr. Smith in Washington on Jan. 5.",
        '"We agreed," he said.',
        "John F. Kennedy Airport reopened at 3 p.m. Officials were relieved.",
    ]


def test_paragraph_breaks_end_sentences() -> None:
    assert split_sentences("First line without stop\nSecond one.") == [
        "First line without stop",
        "Second one.",
    ]


def test_tokens_and_shingles() -> None:
    assert content_tokens("Pakistan's minister said the U.S. was wrong") == [
        "pakistan",
        "minister",
        "u.s",
        "wrong",
    ]
    assert word_ngrams(["a", "b", "c"], 2) == {"a b", "b c"}
    assert word_ngrams(["a"], 5) == {"a"}


def _facts(sentence: str, kind: str) -> set[str]:
    return {f.key for f in extract_facts(sentence) if f.kind == kind}


def test_dates_normalise_across_formats() -> None:
    assert _facts("Rules issued on July 24, 2025 apply.", "date") == {"2025-07-24"}
    assert _facts("Rules issued on 24 July 2025 apply.", "date") == {"2025-07-24"}
    assert _facts("Rules issued 2025-07-24 apply.", "date") == {"2025-07-24"}
    assert _facts("The Taliban took power in August 2021.", "date") == {"2021-08"}
    assert "thursday" in _facts("Pakistan on Thursday urged firms.", "date")


def test_numbers_normalise_words_and_scales() -> None:
    assert _facts("about 250 million people and 28 accounts", "number") == {"250000000", "28"}
    assert _facts("more than two dozen accounts", "number") == {"24"}
    assert _facts("It cost $1,200 or 15%.", "number") == {"1200", "15%"}
    assert _facts("nineteen accounts", "number") == {"19"}
    assert _facts("twenty-seven people and Sixty five cars", "number") == {"27", "65"}
    assert _facts("twenty seven million people, a hundred cars", "number") == {"27000000", "100"}
    assert _facts("Forty-niners and ninety accounts", "number") == {"40", "90"}


def test_entities_and_quotes() -> None:
    facts = extract_facts(
        'Barrister Aqeel said the "Brazil model" could apply, Deputy Minister Talal Chaudhry added.'
    )
    entities = {f.text for f in facts if f.kind == "entity"}
    assert "Aqeel" in entities and "Talal Chaudhry" in entities
    assert "Deputy Minister" not in entities
    assert {f.text for f in facts if f.kind == "quote"} == {"Brazil model"}


def test_small_number_words_are_facts_only_when_asked() -> None:
    assert _facts("The court fined five companies.", "number") == set()
    assert {f.key for f in extract_facts("The court fined five companies.", counting_words=True)} == {"5"}


def test_facts_in_any_case_are_read_without_error() -> None:
    """Patterns match case-insensitively, as Unicode folds case: the long s of "ſept" is an s."""
    assert _facts("On ſunday, 3 ſept 2020, in SEPT. 2021", "date") == {"sunday", "2020-09-03", "2021-09"}
    assert _facts("TWO THOUſAND people", "number") == {"2000"}


class _NeverDisjoint(frozenset):
    def isdisjoint(self, other: object) -> bool:
        return False


def _fact_sentences() -> list[str]:
    return [
        *(
            line
            for path in sorted(SEEDS.glob("*.txt"))
            for line in path.read_text(encoding="utf-8").splitlines()
        ),
        "On ſunday, 3 ſept 2020 two DOZENS of Eleven-member crews met on MONDAY.",
        "A dozens crews came.",
        "Ninety-nine left on Friday 3.",
        "Dozens came; a hundred stayed; Twenty  thousand left on 4 Nov. and Nov 5th, 2019.",
        "Rules from 2025-07-24 (Wednesday) set fifty-two limits; x2two and two_dozen are no words.",
        'Minister Jane Doe said "the 40 banned groups stay banned" on July 24 in Kabul.',
    ]


def _clear_fact_caches() -> None:
    from dedup import facts

    facts._facts_of.cache_clear()
    facts._figures_of.cache_clear()


def test_facts_skip_only_patterns_that_cannot_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pattern is skipped when the sentence has none of its words: what every pattern run on
    every sentence finds is found all the same."""
    from dedup import facts

    sentences = _fact_sentences()
    gated = [extract_facts(s, counting_words=c) for s in sentences for c in (False, True)]
    _clear_fact_caches()
    ungated = [(p, key, None) for p, key, _ in facts._DATE_PATTERNS]
    monkeypatch.setattr(facts, "_DATE_PATTERNS", ungated)
    monkeypatch.setattr(facts, "_NUMBER_WORD_CUES", _NeverDisjoint())
    assert [extract_facts(s, counting_words=c) for s in sentences for c in (False, True)] == gated
    assert sum(map(len, gated)) > 100
    _clear_fact_caches()


def test_figures_are_the_dates_and_numbers_of_the_facts() -> None:
    from dedup.facts import extract_figures

    sentences = _fact_sentences()
    for counting_words in (False, True):
        _clear_fact_caches()  # figures first, then facts: neither reads the other's cache entry
        figures = [extract_figures(s, counting_words) for s in sentences]
        facts = [extract_facts(s, counting_words) for s in sentences]
        assert figures == [[f for f in found if f.kind in ("date", "number")] for found in facts]
        assert {f.kind for found in facts for f in found} == {"date", "number", "entity", "quote"}
        assert sum(map(len, figures)) > 30


# --- the fast paths give what the plain patterns give -----------------------------------------
# tokens(), normalize() and word_ngrams() take shortcuts (whitespace chunks, one pass over the
# whole text, zip): here each is compared with the straightforward definition it replaced, on
# the seeds and on generated text full of the cases the shortcuts must get right.


def _reference_tokens(text: str) -> list[str]:
    raw = _TOKEN.findall(text.lower().replace("’", "'"))
    return [t[:-2] if t.endswith("'s") else t for t in raw]


def _reference_normalize(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.splitlines())


def _reference_ngrams(words: list[str], n: int) -> set[str]:
    if len(words) < n:
        return set(words)
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


# Pieces that exercise every branch: possessives, dotted words, numbers with separators,
# hyphens, apostrophes at either end, non-ASCII letters, combining marks, digits of other
# scripts, "İ" (lower-cases to two characters), punctuation glued to words, every space.
_PIECES = [
    "Pakistan's", "PAKISTAN’S", "U.S.", "u.s.-led", "e.g.", "3.5", "1,000", "1,000.50", "9,082,",
    "2.", ".5", "covid-19", "COVID19", "don't", "rock'n'roll", "'tis", "students'", "o'brien",
    "x's's", "1990's", "a'", "'s", "’", "José", "Mu\u0308ller", "straße", "İstanbul", "ſ", "٣٤",
    "½", "²", "日本語", "(hello)", "“quoted”", "«guillemets»", "—dash—", "well-known", "end.",
    "end...", "a..b", "a.'b", "x,y", "1.,2", "e-mail@example.com", "#tag", "50%", "$42", "Ω",
    "\u0301accent", "x\u200by", "and", "the", "a", "I", "7", "s", "t", "it's", "Mr.", "ok!",
    " ", "  ", "\t", "\u00a0", "\u2003", "\u3000", "\u202f", "\n", "\r\n", "\u2028", "\x85",
    "\x1c", "\x0b", "\x1f", "\u1680",
]  # fmt: skip


def _generated_texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        pieces = [rng.choice(_PIECES) + rng.choice(["", " ", " ", "\n"]) for _ in range(rng.randint(0, 40))]
        texts.append("".join(pieces))
    return texts


def _corpus() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))] + _generated_texts(3000, 11)


def test_tokens_are_the_token_pattern_matches() -> None:
    for text in _corpus():
        assert tokens(text) == _reference_tokens(text), repr(text)


def test_normalize_equals_line_by_line_normalisation() -> None:
    for text in _corpus():
        assert normalize(text) == _reference_normalize(text), repr(text)


def test_word_ngrams_equal_the_sliding_window() -> None:
    rng = random.Random(3)
    for length in range(0, 12):
        words = [rng.choice("abcde") * rng.randint(1, 2) for _ in range(length)]
        for n in range(0, 7):
            assert word_ngrams(words, n) == _reference_ngrams(words, n), (words, n)


def test_shortcut_character_sets_are_exact() -> None:
    """Every character tokens() strips from a chunk's ends is in no token, and the characters
    normalize() looks for before replacing are exactly the space class (every code point)."""
    word = regex.compile(r"[\p{L}\p{M}\p{N}]")
    assert not [c for c in _EDGE if word.fullmatch(c)]
    looked_for = {" ", "\t", *_NON_ASCII_SPACES}
    assert {chr(c) for c in range(0x110000) if _SPACE.fullmatch(chr(c))} == looked_for
