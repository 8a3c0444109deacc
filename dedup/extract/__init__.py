"""Extract: a ``SourceRecord`` becomes a clean ``Document`` (or a ``Reject``)."""

from __future__ import annotations

import importlib

from dedup.extract.text import clean_plain_text
from dedup.ingest import decoded
from dedup.records import Document, Reject, SourceRecord


def load_html_extractor() -> None:
    """Import the HTML extractor (trafilatura, htmldate, lxml: 0.15 s and 300 modules) now; an
    engine calls this before forking workers for pages, so they share one import. A corpus of
    plain text never loads it."""
    importlib.import_module("dedup.extract.html")


def extract_document(record: SourceRecord, min_words: int = 15) -> Document | Reject:
    """Body text and metadata of one record; a Reject when no article remains (or, for a
    page read as bytes, when they cannot be decoded)."""
    readable = decoded(record)
    if isinstance(readable, Reject):
        return readable
    record = readable
    if record.content_type == "html":
        from dedup.extract.html import extract_html

        page = extract_html(record.content, url=record.url)
        if page is None:
            return Reject(
                record.source_path, "no_article", "the HTML page holds no article text", record.doc_id
            )
        doc = Document(
            doc_id=record.doc_id,
            source_path=record.source_path,
            text=page.text,
            title=record.title or page.title,
            url=record.url or page.url,
            published=record.published or page.published,
            site=record.site or page.site,
            author=page.author,
            language=page.language,
        )
        doc.set_word_count(page.n_words)  # min_words and the outputs read it
    else:
        markdown = record.source_path.lower().removesuffix(".gz").endswith((".md", ".markdown"))
        cleaned = clean_plain_text(record.content, markdown=markdown)
        doc = Document(
            doc_id=record.doc_id,
            source_path=record.source_path,
            text=cleaned.body,
            title=record.title or cleaned.title,
            url=record.url,
            published=record.published,
            site=record.site,
        )
        doc.set_word_count(cleaned.n_words)
    if doc.n_words < min_words:
        return Reject(
            record.source_path,
            "no_article",
            f"only {doc.n_words} words of article text after cleaning (minimum {min_words})",
            record.doc_id,
        )
    return doc
