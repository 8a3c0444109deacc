"""HTML pages: trafilatura for body and metadata, then the shared line rules.

Measured on two labelled page sets (benchmarks/extraction.py): precision mode with comments
off beats trafilatura's defaults, its fallback extractors are only worth running on pages
where its own result is short, a recall-mode second opinion rescues pages where precision
mode keeps only a paywall or cookie stub, and the shared line rules remove the "read more" /
subscribe / share lines trafilatura keeps. The page is parsed once and the tree reused.
Nothing is fetched: trafilatura only ever sees the bytes we read from disk.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura import bare_extraction, load_html

# Cheap parts of trafilatura.extract_metadata (meta tags, JSON-LD, <title>, canonical link):
# the full function costs as much as the text extraction itself. Not public API: the
# dependency is pinned to trafilatura 2.x and tests/test_extract.py checks the metadata.
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)

from dedup.extract.boilerplate import clean_lines
from dedup.text import normalize

log = logging.getLogger("dedup")

# trafilatura's fallbacks (readability and jusText, compared with its own result) cost a
# third of its time and change the body of few pages: below this many characters, where they
# can, the page is extracted again with them. Measured on both labelled sets
# (benchmarks/extraction.py), F1 Zyte / trafilatura's set: fallbacks on every page 0.9727 /
# 0.9313; below 1,000 or 900 characters 0.9727 / 0.9312; below 800, 700, 600 or 500 0.9748 /
# 0.9305-0.9296 (700: 0.9308); none 0.9672 / 0.9265. At 700, 119 of the 1,171 pages are
# extracted twice instead of 170 (the second pass costs more than the first).
FULL_EXTRACTION_BELOW_CHARS = 700
# Below this many characters a precision-mode result is suspicious (a paywall or cookie stub)...
SECOND_OPINION_MAX_CHARS = 300
# ...and a recall-mode result replaces it when it is this many times longer.
SECOND_OPINION_MIN_RATIO = 2.0
_LANGUAGE = re.compile(r"^[a-zA-Z]{2,3}(?=$|[-_])")


@dataclass(frozen=True, slots=True)
class HtmlExtraction:
    text: str
    n_words: int  # len(text.split())
    title: str | None
    published: str | None
    author: str | None
    site: str | None
    url: str | None
    language: str | None


def _body(tree: HtmlElement, url: str | None, **mode: bool) -> str:
    try:
        result = bare_extraction(tree, url=url, include_comments=False, **mode)
    except Exception as exc:  # a malformed page must not stop the batch
        log.debug("trafilatura failed on %s: %s", url, exc)
        return ""
    if result is None or not result.text:
        return ""
    return unicodedata.normalize("NFC", result.text)


def _language(tree: HtmlElement) -> str | None:
    """The declared language: <html lang>, then content-language / og:locale meta tags."""
    candidates = [tree.get("lang"), tree.get("xml:lang")]
    for meta in tree.iterfind(".//head/meta[@content]"):
        key = (meta.get("http-equiv") or meta.get("property") or meta.get("name") or "").lower()
        if key in ("content-language", "og:locale", "language", "dc.language"):
            candidates.append(meta.get("content"))
    for candidate in candidates:
        match = _LANGUAGE.match((candidate or "").strip())
        if match:
            return match.group(0).lower()
    return None


def _clean(value: str | None) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None


def page_metadata(tree: HtmlElement, url: str | None) -> dict[str, str | None]:
    """Title, date, author, site, canonical URL and language from the parsed page."""
    meta: dict[str, str | None] = dict.fromkeys(("title", "published", "author", "site", "url", "language"))
    try:
        doc = examine_meta(tree)
        if doc.author and " " not in doc.author:  # single tokens are handles or noise
            doc.author = None
        try:
            doc = extract_meta_json(tree, doc)
        except Exception:  # JSON-LD in the wild is often broken
            log.debug("broken JSON-LD on %s", url)
        meta["title"] = _clean(doc.title or extract_title(tree))
        meta["author"] = _clean(doc.author)
        meta["url"] = doc.url or extract_url(tree, url) or url
        site = doc.sitename or extract_sitename(tree)
        if not site and meta["url"]:
            match = META_URL.match(meta["url"])
            site = match[1] if match else None
        meta["site"] = _clean(site.lstrip("@") if site else None)
        meta["published"] = find_date(tree, url=meta["url"], original_date=True, extensive_search=False)
        meta["language"] = _language(tree)
    except Exception as exc:  # metadata is best effort: never lose the text over it
        log.debug("metadata failed on %s: %s", url, exc)
    return meta


def extract_html(html: str, url: str | None = None) -> HtmlExtraction | None:
    """Article body and metadata of one page, or None when the page holds no article."""
    try:
        tree = load_html(html)
    except Exception as exc:
        log.debug("cannot parse %s: %s", url, exc)
        tree = None
    if tree is None:
        return None
    text = _body(tree, url, favor_precision=True, fast=True)
    if len(text) < FULL_EXTRACTION_BELOW_CHARS:
        text = _body(tree, url, favor_precision=True)
    if len(text) < SECOND_OPINION_MAX_CHARS:
        second = _body(tree, url, favor_recall=True)
        if len(second) > SECOND_OPINION_MIN_RATIO * len(text):
            text = second
    if not text:
        return None
    meta = page_metadata(tree, url)
    lines = [line for line in normalize(text).splitlines() if line.strip()]
    title = normalize(meta["title"]) if meta["title"] else None
    cleaned = clean_lines(lines, plain_text=False, known_title=title)
    return HtmlExtraction(
        text=cleaned.body,
        n_words=cleaned.n_words,
        title=title,
        published=meta["published"],
        author=meta["author"],
        site=meta["site"],
        url=meta["url"],
        language=meta["language"],
    )
