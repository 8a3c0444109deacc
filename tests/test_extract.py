from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from conftest import ARTICLE_PARAGRAPHS, SEEDS, SHARED, article_html, requires_shared
from dedup.extract import extract_document
from dedup.extract.boilerplate import is_bio, is_heading, is_widget
from dedup.extract.text import clean_plain_text
from dedup.records import Document, Reject, SourceRecord

BOILERPLATE = [
    "Listen to the article",
    "Fact Checker",
    "Verify the accuracy of this article",
    "Comments",
    "See what people are discussing",
    "Good point. Watching costs and grades closely.",
    "33 Comments",
    "Ali; a journalist with 3 years of experience",
    "Correspondent",
    "Graduate of DePaul University",
    "Global concern",
    "User impact",
    "Violence surge",
    "Accusations",
    "What's the story",
]


def _seed(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_seed_texts_carry_no_boilerplate(path: Path) -> None:
    cleaned = clean_plain_text(path.read_text(encoding="utf-8"))
    for line in BOILERPLATE:
        assert line not in cleaned.body, line
    assert len(cleaned.body.split()) > 150  # the article itself is kept


def test_seed_000_comment_thread_is_cut() -> None:
    cleaned = clean_plain_text(_seed("000_d42b6dd277278d22.txt"))
    assert cleaned.body.rstrip().endswith("complex geopolitical dynamics and security threats.")
    assert sum(rule == "comments" for rule, _ in cleaned.dropped) == 34  # the count line + 33 comments


def test_seed_titles_and_headings() -> None:
    assert clean_plain_text(_seed("002_86013d487e35f14f.txt")).title == (
        "Pakistan warns it may block social media platforms for non-compliance"
    )
    assert clean_plain_text(_seed("001_499202b887901f4b.txt")).title.startswith("Pakistan Demands Social")
    body_003 = clean_plain_text(_seed("003_8810f553bd5cd5b8.txt")).body
    assert "Ali Hamza" not in body_003
    assert "July 24, 2025" in body_003 and "40 banned groups" in body_003


def test_line_rules() -> None:
    assert (
        is_widget("Listen to the article") and is_widget("Share this article") and is_widget("Advertisement")
    )
    assert not is_widget("Share prices fell 3% on Monday after the announcement.")
    assert is_heading("Violence surge") and not is_heading("He said the talks failed.")
    assert is_bio(
        "Jane is a reporter covering politics. She has worked at the Times and is a graduate of Yale."
    )
    assert not is_bio("The reporter said the minister had covered the costs of the trip himself.")


def test_html_extraction_with_trafilatura_keeps_article_drops_furniture() -> None:
    record = SourceRecord("page.html", "page.html", article_html(), "html")
    doc = extract_document(record)
    assert isinstance(doc, Document)
    assert "deep cracks in two of its supporting piers" in doc.text
    assert "relief fund" in doc.text
    for furniture in ("Share on Facebook", "Related stories", "about time", "All rights reserved", "Sport"):
        assert furniture not in doc.text
    assert doc.title == "Springfield closes river bridge after cracks found"
    assert doc.published == "2024-03-12"
    assert doc.url == "https://gazette.example.com/news/bridge-closure"


def test_record_metadata_wins_over_page_metadata() -> None:
    record = SourceRecord(
        "f.jsonl#L1", "x1", article_html(), "html", title="Given title", published="2024-01-01"
    )
    doc = extract_document(record)
    assert doc.title == "Given title" and doc.published == "2024-01-01"


def test_page_without_article_is_rejected() -> None:
    record = SourceRecord(
        "nav.html", "nav.html", "<html><body><nav><a href='/'>Home</a></nav></body></html>", "html"
    )
    reject = extract_document(record)
    assert isinstance(reject, Reject) and reject.reason == "no_article"


@requires_shared
def test_real_news_pages_extract_their_ground_truth() -> None:
    """Real pages of the Zyte benchmark: the extracted body holds most of the true body."""
    truth = json.loads((SHARED / "data/extraction/zyte/ground-truth.json").read_text(encoding="utf-8"))
    pages = sorted(truth)[:12]
    recalls = []
    for page_id in pages:
        html = gzip.decompress((SHARED / f"data/extraction/zyte/html/{page_id}.html.gz").read_bytes())
        doc = extract_document(SourceRecord(page_id, page_id, html.decode("utf-8", "replace"), "html"))
        expected = set(truth[page_id]["articleBody"].split())
        got = set(doc.text.split()) if isinstance(doc, Document) else set()
        recalls.append(len(expected & got) / len(expected))
    assert sum(recalls) / len(recalls) > 0.8


def test_html_keeps_subheadings_and_drops_link_headers_and_promos() -> None:
    paragraphs = [
        *ARTICLE_PARAGRAPHS[:2],
        "<h2>What happens next</h2>",
        *ARTICLE_PARAGRAPHS[2:],
        "Read more: Council budget approved",
        "Sign up for our morning newsletter",
    ]
    html = article_html(paragraphs=paragraphs)
    html = html.replace("<p><h2>What happens next</h2></p>", "<h2>What happens next</h2>")
    doc = extract_document(SourceRecord("page.html", "page.html", html, "html"))
    assert "What happens next" in doc.text
    assert "Read more" not in doc.text and "newsletter" not in doc.text
    assert not doc.text.startswith(doc.title)  # the headline is metadata, not body


def test_typography_is_kept() -> None:
    cleaned = clean_plain_text("A headline\n„Wir sind bereit“, sagte er – und ging. “Quoted,” she said.")
    assert "„Wir sind bereit“" in cleaned.body and "–" in cleaned.body and "“Quoted,”" in cleaned.body
