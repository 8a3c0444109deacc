"""Text primitives shared by every stage: normalisation, tokens, sentences, shingles."""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet

import regex as re

# Words (letters, with inner apostrophes or dots as in "U.S.") and numbers (with inner . or ,).
_TOKEN = re.compile(r"\p{L}[\p{L}\p{M}]*(?:['’.]\p{L}[\p{L}\p{M}]*)*|\p{N}+(?:[.,]\p{N}+)*")
_SPACES = r"\t\u00a0\u2000-\u200b\u202f\u205f\u3000"  # and " "
_SPACE = re.compile(rf"[ {_SPACES}]+")
# The runs of _SPACE that are not already a single " " (replacing those changes nothing).
_SPACE_RUN = re.compile(rf"[ {_SPACES}]{{2,}}|[{_SPACES}]")
_NON_ASCII_SPACES = ("\u00a0", *map(chr, range(0x2000, 0x200C)), "\u202f", "\u205f", "\u3000")
# Characters that are in no token (neither letters, marks nor numbers): tokens() strips them
# from the ends of a whitespace-separated chunk before its plain-word check.
_EDGE = "".join(
    c for c in string.punctuation + "“”‘’«»„‚‹›—–…·•" if not re.fullmatch(r"[\p{L}\p{M}\p{N}]", c)
)

# English function words and reporting verbs: they carry no story identity. Kept short on
# purpose: a rewrite keeps content words, and long lists drop words like "state" or "million".
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have haven't
    having he he'd he'll he's her here here's hers herself him himself his how how's i i'd i'll
    i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor
    not of off on once only or other ought our ours ourselves out over own same shan't she
    she'd she'll she's should shouldn't so some such than that that's the their theirs them
    themselves then there there's these they they'd they'll they're they've this those through
    to too under until up very was wasn't we we'd we'll we're we've were weren't what what's
    when when's where where's which while who who's whom why why's with won't would wouldn't
    you you'd you'll you're you've your yours yourself yourselves said says say told according
    just will may might one two new like get got mr mrs ms s t
    """.split()
)


def normalize(text: str) -> str:
    """NFC and single spaces inside lines. Quotes, dashes and other typography stay as
    published: matching normalises its own tokens, the stored text is the outlet's."""
    # One pass over the whole text, not one per line: no line break is a space character, so
    # no run of spaces crosses a line; and only runs that are not already one " " are replaced.
    text = "\n".join(unicodedata.normalize("NFC", text).splitlines())
    # Most texts have nothing to replace: a few substring tests cost less than one regex pass.
    if "  " in text or "\t" in text or (not text.isascii() and any(c in text for c in _NON_ASCII_SPACES)):
        text = _SPACE_RUN.sub(" ", text)
    return "\n".join([line.strip() for line in text.split("\n")])


def tokens(text: str) -> list[str]:
    """Lower-cased word and number tokens, possessive 's removed ("Pakistan's" -> "pakistan",
    "U.S." -> "u.s": the pattern never ends a token with a dot)."""
    # The same tokens as ``_TOKEN.findall`` over the whole text, read whitespace-separated
    # chunk by chunk: whitespace is never part of a token, and neither are the characters
    # stripped from a chunk's ends (_EDGE). A chunk that is then plain ASCII letters or
    # digits is one token; any other chunk goes through the pattern.
    out: list[str] = []
    append = out.append
    for chunk in text.lower().replace("’", "'").split():
        if chunk.isalpha() and chunk.isascii():
            append(chunk)
            continue
        core = chunk.strip(_EDGE)
        if core.isascii():
            if core.isalpha() or core.isdigit():
                append(core)
                continue
            if core.endswith("'s") and core[:-2].isalpha():
                append(core[:-2])
                continue
        if core:
            out.extend([t[:-2] if t.endswith("'s") else t for t in _TOKEN.findall(core)])
    return out


def content_words(toks: Iterable[str], stopwords: AbstractSet[str] = STOPWORDS) -> list[str]:
    """The tokens that can identify a story: no stopwords, no single letters (digits stay).
    ``stopwords``: STOPWORDS, or a caller's superset of them."""
    return [t for t in toks if t not in stopwords and (len(t) > 1 or t.isdigit())]


def content_tokens(text: str) -> list[str]:
    return content_words(tokens(text))


def word_ngrams(words: list[str], n: int) -> set[str]:
    """Word n-grams as strings; a text shorter than n gives its words (still a usable set)."""
    if len(words) < n:
        return set(words)
    if n < 1:
        return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}
    return set(map(" ".join, zip(*[words[i:] for i in range(n)], strict=False)))


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
_BOUNDARY = re.compile(r"""([.!?…]+["'”’»)\]]*)(\s+)(?=["'“‘«„(\[]?[\p{Lu}\p{N}])""")


_DOTTED_ACRONYM = re.compile(r"(?:\p{L}\.)+\p{L}")


def _ends_with_abbreviation(chunk: str) -> bool:
    """Whether the run of letters and dots before ``chunk``'s final dot is an abbreviation or
    an initial. The run is read backwards: a regex search for it anchored at the end would
    try every start position of a long sentence."""
    end = len(chunk) - 1  # chunk ends with "."
    start = end
    while start > 0 and (chunk[start - 1].isalpha() or chunk[start - 1] == "."):
        start -= 1
    if start == end:
        return False
    word = chunk[start:end].lower().strip(".")
    if word in _ABBREVIATIONS:
        return True
    # Initials such as "J." in "John F. Kennedy", or "U.S."-style dotted acronyms.
    return len(word) == 1 or bool(_DOTTED_ACRONYM.fullmatch(word))


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
