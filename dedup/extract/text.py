"""Plain text and Markdown: the same cleaning that HTML gets, from lines alone."""

from __future__ import annotations

import regex as re

from dedup.extract.boilerplate import CleanedText, clean_lines
from dedup.text import normalize

_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_MARKUP = re.compile(
    r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+(?=\S))|(?<!\w)[*_]{1,3}(?=\S)|(?<=\S)[*_]{1,3}(?!\w)"
)


def strip_markdown(text: str) -> str:
    """Markdown to prose: links keep their text, heading/quote/list markers and emphasis go."""
    text = _MD_LINK.sub(r"\1", text)
    return "\n".join(_MD_MARKUP.sub("", line) for line in text.splitlines())


def clean_plain_text(text: str, *, markdown: bool = False) -> CleanedText:
    """Title and clean body of a plain-text article."""
    if markdown:
        text = strip_markdown(text)
    # normalize() joins stripped lines with "\n": its non-empty lines, without a second pass.
    lines = [line for line in normalize(text).split("\n") if line]
    return clean_lines(lines, plain_text=True)
