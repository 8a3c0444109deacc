from __future__ import annotations

from dedup.facts import extract_facts
from dedup.text import content_tokens, split_sentences, word_ngrams


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
