"""Text primitives shared by every stage: normalisation, tokens, sentences, shingles."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import regex as re

_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'"})
_DASHES = str.maketrans({"–": "-", "—": "-", "‒": "-", "―": "-"})
_TOKEN = re.compile(r"[\p{L}\p{N}]+(?:['’.][\p{L}\p{N}]+)*")
_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")

# English function words: they carry no story identity. Short on purpose (a rewrite keeps
# content words, and over-long lists drop words like "state" or "million" that matter).
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    said says say told according mr mrs ms one two new also however would could may might must
    shall us per via amid among upon within without
    """.split()
)


def normalize(text: str) -> str:
    """NFKC, straight quotes, plain dashes, single spaces inside lines."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).translate(_DASHES)
    return "\n".join(_SPACE.sub(" ", line).strip() for line in text.splitlines())


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens (letters/digits, keeping inner apostrophes and dots as in U.S.)."""
    return [t.lower().replace("’", "'") for t in _TOKEN.findall(text)]


def content_tokens(text: str) -> list[str]:
    """Tokens without stopwords, possessive endings or single characters."""
    out = []
    for tok in tokens(text):
        if tok.endswith("'s"):
            tok = tok[:-2]
        if len(tok) > 1 and tok not in STOPWORDS:
            out.append(tok)
    return out


def word_ngrams(words: list[str], n: int) -> set[str]:
    """Word n-grams as strings; a text shorter than n gives its words (still a usable set)."""
    if len(words) < n:
        return set(words)
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


# --- sentences -------------------------------------------------------------------------------

# Words that end with a dot without ending a sentence.
_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof gen sen rep gov lt col sgt capt cmdr adm maj st jr sr rev hon pres supt
    insp inc corp co ltd llc plc no nos vs etc al jan feb mar apr jun jul aug sep sept oct nov
    dec approx dept est fig min max mt ft ave blvd rd u.s u.k u.n e.u a.m p.m i.e e.g d.c
    """.split()
)
# Candidate boundary: terminal punctuation, optional closing quotes/brackets, whitespace.
_BOUNDARY = re.compile(r"""([.!?…]+["')\]]*)(\s+)(?=["'(\[]?[\p{Lu}\p{N}])""")


def _ends_with_abbreviation(chunk: str) -> bool:
    match = re.search(r"([\p{L}.]+)\.$", chunk)
    if not match:
        return False
    word = match.group(1).lower().strip(".")
    if word in _ABBREVIATIONS:
        return True
    # Initials such as "J." in "John F. Kennedy", or "U.S."-style dotted acronyms.
    return len(word) == 1 or bool(re.fullmatch(r"(?:\p{L}\.)+\p{L}", word))


def split_sentences(text: str) -> list[str]:
    """Split news text into sentences. Paragraph breaks always end a sentence; inside a
    paragraph a boundary needs terminal punctuation followed by an upper-case start, and not
    an abbreviation or an initial before it."""
    sentences: list[str] = []
    for paragraph in text.splitlines():
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        start = 0
        for match in _BOUNDARY.finditer(paragraph):
            end = match.end(1)
            if match.group(1) == "." and _ends_with_abbreviation(paragraph[start:end]):
                continue
            piece = paragraph[start:end].strip()
            if piece:
                sentences.append(piece)
            start = match.end()
        tail = paragraph[start:].strip()
        if tail:
            sentences.append(tail)
    return sentences


def iter_paragraphs(text: str) -> Iterator[str]:
    for line in text.splitlines():
        line = line.strip()
        if line:
            yield line
