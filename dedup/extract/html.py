"""HTML pages: trafilatura for body and metadata, then the shared line rules.

Nothing is fetched: trafilatura only ever sees the bytes we read from disk.
"""

from __future__ import annotations

from dataclasses import dataclass

import trafilatura

from dedup.extract.boilerplate import clean_lines
from dedup.text import normalize


@dataclass(frozen=True, slots=True)
class HtmlExtraction:
    text: str
    title: str | None
    published: str | None
    author: str | None
    site: str | None
    url: str | None
    language: str | None


def extract_html(html: str, url: str | None = None) -> HtmlExtraction | None:
    """Article body and metadata of one page, or None when the page holds no article."""
    result = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,  # comment threads would become false "additions"
        favor_precision=True,
        include_tables=True,
        deduplicate=False,
    )
    if result is None or not result.text:
        return None
    lines = [line for line in normalize(result.text).splitlines() if line.strip()]
    title = normalize(result.title).strip() if result.title else None
    if title and lines and lines[0].strip().lower() == title.lower():
        lines = lines[1:]  # trafilatura often repeats the headline as the first line
    cleaned = clean_lines(lines, find_title=False)
    return HtmlExtraction(
        text=cleaned.body,
        title=title,
        published=result.date,
        author=result.author,
        site=result.sitename or result.hostname,
        url=result.url or url,
        language=result.language,
    )
