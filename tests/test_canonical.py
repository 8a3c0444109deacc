"""Canonicalisation: alignment on hand-made examples, and the seed story's additions."""

from __future__ import annotations

from pathlib import Path

import pytest

from dedup.canonical import SentenceTable, StoryAligner, choose_canonical, stem, variant_additions
from dedup.config import PipelineOptions
from dedup.extract import extract_document
from dedup.ingest import discover_inputs, read_input
from dedup.records import Addition, Document
from dedup.text import content_tokens
from dedup.weights import TermWeights

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
OPTIONS = PipelineOptions()

CANONICAL = (
    "Pakistan on Thursday urged social media platforms to crack down on accounts linked to militant "
    "groups. Chaudhry said investigators identified 19 accounts run from India. He presented documentary "
    "evidence at a news conference in Islamabad. The government fined five companies last year."
)


def _additions(canonical: str, variant: str) -> list[Addition]:
    tables = [SentenceTable.of(canonical), SentenceTable.of(variant)]
    weights = TermWeights.fit([content_tokens(canonical), content_tokens(variant)])
    return variant_additions(1, 0, StoryAligner(tables, weights), OPTIONS).additions


def _sentences(additions: list[Addition]) -> list[str]:
    return [a.text for a in additions if a.kind == "sentence"]


def test_stem_joins_inflections_and_derivations() -> None:
    assert stem("urged") == stem("urges") == stem("urging")
    assert stem("use") == stem("using") == stem("used")
    assert stem("countries") == stem("country")
    assert stem("failure") == stem("fail")
    assert stem("terrorism") == stem("terrorists")
    assert stem("need") != stem("ne")


def test_synonyms_and_reordered_clauses_align() -> None:
    variant = (
        "Investigators identified 19 accounts run from India, Chaudhry stated. "
        "On Thursday Pakistan urged social media platforms to crack down on accounts tied to militant groups."
    )
    assert _additions(CANONICAL, variant) == []


def test_merged_and_split_sentences_align() -> None:
    merged = (
        "Chaudhry said investigators identified 19 accounts run from India, and he presented documentary "
        "evidence at a news conference in Islamabad."
    )
    split = (
        "Pakistan on Thursday urged social media platforms to act. They must crack down on militant accounts."
    )
    assert _additions(CANONICAL, merged) == []
    assert _additions(CANONICAL, split) == []


def test_number_formats_are_the_same_fact() -> None:
    assert _additions(CANONICAL, "The government fined 5 companies last year.") == []
    found = _additions(CANONICAL, "The government fined 7 companies last year.")
    assert [(a.kind, a.text) for a in found] == [("number", "7")]


def test_new_sentence_is_a_sentence_addition() -> None:
    new = "Barrister Aqeel said content about Palestine was removed within 24 hours by the platforms."
    assert _sentences(_additions(CANONICAL, CANONICAL.replace("last year.", f"last year. {new}"))) == [new]


@pytest.fixture(scope="module")
def seed_story() -> tuple[list[Document], StoryAligner]:
    docs = [extract_document(r) for item in discover_inputs([SEEDS]) for r in read_input(item)]
    assert all(isinstance(d, Document) for d in docs)
    weights = TermWeights.fit([content_tokens(d.text) for d in docs])
    return docs, StoryAligner([SentenceTable.of(d.text) for d in docs], weights)


def _variant(seed_story: tuple[list[Document], StoryAligner], prefix: str) -> list[Addition]:
    docs, aligner = seed_story
    c, _ = choose_canonical(docs, aligner, OPTIONS)
    assert docs[c].doc_id.startswith("004")  # the AP original
    v = next(i for i, d in enumerate(docs) if d.doc_id.startswith(prefix))
    return variant_additions(v, c, aligner, OPTIONS).additions


# What the correspondent's re-report (003) says that the AP story does not: each entry is a
# (kind, text fragment) that must be among its additions.
SEED_003_ADDITIONS = [
    ("sentence", "compliance rules on July 24, 2025"),
    ("sentence", "19 terrorism-linked accounts operated from India and 28 from Afghanistan"),
    ("sentence", "traced activity from 40 banned groups"),
    ("sentence", "Palestine was often removed within 24 hours"),
    ("quote", "Brazil model"),
    ("sentence", "legal options in international courts"),
    ("sentence", "artificial intelligence tools, were being used to spread militant propaganda"),
]

# Paraphrases of AP sentences in the rewrites: none may be a sentence addition.
SEED_PARAPHRASES = [
    ("000", "He noted that Islamabad has repeatedly asked Afghan authorities"),
    ("001", "He said he presented documentary evidence at the briefing"),
    ("003", "Pakistan on Thursday urged major social media companies to tighten controls"),
    ("003", "Pakistan urged major social media firms to curb terrorism-linked accounts"),
    ("001", "There was no immediate response from officials in Kabul or New Delhi."),
]


def test_seed_003_additions(seed_story: tuple[list[Document], StoryAligner]) -> None:
    additions = _variant(seed_story, "003")
    for kind, fragment in SEED_003_ADDITIONS:
        assert any(a.kind == kind and fragment in a.text for a in additions), (kind, fragment)


@pytest.mark.parametrize(("prefix", "fragment"), SEED_PARAPHRASES)
def test_seed_paraphrases_are_not_additions(
    seed_story: tuple[list[Document], StoryAligner], prefix: str, fragment: str
) -> None:
    assert not any(fragment in s for s in _sentences(_variant(seed_story, prefix)))


@pytest.mark.xfail(
    strict=True,
    reason="shares no content word with 'There was no immediate comment from Kabul or New Delhi': "
    "needs to know Kabul = Afghanistan and comment = respond",
)
def test_seed_paraphrase_without_shared_words(seed_story: tuple[list[Document], StoryAligner]) -> None:
    assert "Neither Afghanistan nor India has responded to these allegations." not in _sentences(
        _variant(seed_story, "000")
    )
