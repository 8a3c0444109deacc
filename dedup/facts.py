"""Facts inside a sentence: numbers, dates, named entities and quotes, each normalised so
that the same fact written two ways ("24 July 2025" / "July 24, 2025", "two dozen" / "24")
compares equal."""

from __future__ import annotations

import re as std_re
from dataclasses import dataclass
from functools import lru_cache

import regex as re

from dedup.languages import ENGLISH, language_code, language_stopwords
from dedup.text import STOPWORDS, content_tokens

MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "dozen": 12,
    "dozens": 12,
}
_SCALES = {"thousand": 1e3, "million": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "trillion": 1e12}
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
# The patterns match case-insensitively, as Unicode folds case ("ſept" is "sept"): what they
# match is looked up in the tables above casefolded, never lower-cased.
# Each date pattern with the words one of which any match holds (None: no word): a sentence
# with none of them skips the pattern, which is much slower than the test (see _facts_of).
_DATE_PATTERNS = [
    # 2025-07-24
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), lambda m: f"{m[1]}-{m[2]}-{m[3]}", None),
    # July 24, 2025 / July 24 2025 / July 24
    (
        re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I),
        lambda m: _ymd(m[3], m[1], m[2]),
        frozenset(MONTHS),
    ),
    # 24 July 2025 / 24 July
    (
        re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH_RE})\.?(?:,?\s+(\d{{4}}))?\b", re.I),
        lambda m: _ymd(m[3], m[2], m[1]),
        frozenset(MONTHS),
    ),
    # August 2021
    (
        re.compile(rf"\b({_MONTH_RE})\.?\s+(\d{{4}})\b", re.I),
        lambda m: f"{m[2]}-{MONTHS[m[1].casefold()]:02d}",
        frozenset(MONTHS),
    ),
    (re.compile(r"\b(" + "|".join(WEEKDAYS) + r")\b", re.I), lambda m: m[1].casefold(), frozenset(WEEKDAYS)),
]
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)"
    r"(?:\s*(%|(?:percent|per cent|thousand|million|billion|trillion|bn|m)\b))?",
    re.I,
)
_COUNT_WORDS = (
    "dozen dozens hundred zero one two three four five six seven eight nine ten eleven twelve "
    "thirteen fourteen fifteen sixteen seventeen eighteen nineteen "
    "twenty thirty forty fifty sixty seventy eighty ninety"
).split()
# An optional multiplier or tens word ("two dozen", "a hundred", "twenty-seven"), a number word,
# an optional scale ("three million").
_NUMBER_WORDS = re.compile(
    r"\b((?:(?:a|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety)(?:\s+|-))?(?:" + "|".join(_COUNT_WORDS) + r"))\b"
    r"(?:\s+(thousand|million|billion))?",
    re.I,
)
_NUMBER_WORD_CUES = frozenset(_COUNT_WORDS)
# A case-insensitive match of a word above is a whole run of ASCII letters of the casefolded
# sentence (it is bounded by non-word characters, and only letters fold to ASCII letters).
_ASCII_WORD = std_re.compile("[a-z]+")  # the standard module is faster at this
_QUOTE = re.compile(r'["“„«]([^"“”„«»]{3,400})["”»]')
_OPENING_QUOTES = ('"', "“", "„", "«")
_DIGIT = re.compile(r"\d")
_ENTITY = re.compile(
    r"\p{Lu}[\p{L}\p{N}'.-]*(?:\s+(?:(?:of|the|for|and|de|al|bin)\s+)?\p{Lu}[\p{L}\p{N}'.-]*)*"
)
# Capitalised words that are roles or generic, not names: "Deputy Interior Minister" adds nothing.
_GENERIC_CAPS = frozenset(
    """
    minister deputy state interior law president prime secretary spokesperson spokesman official
    officials chief senator governor mayor general barrister judge court supreme government
    parliament ministry department police army the he she they it we i in on at but and if while
    when after before as a an this that these those some many most
    """.split()
)


# Capitalised only because they open a sentence.
_SENTENCE_OPENERS = frozenset(
    """
    neither either although though since despite meanwhile however earlier later still yet even
    last next many several another every instead until unless whether once among amid according
    """.split()
)


def _ymd(year: str | None, month: str, day: str) -> str:
    mm = MONTHS[month.casefold().rstrip(".")]
    return f"{year}-{mm:02d}-{int(day):02d}" if year else f"{mm:02d}-{int(day):02d}"


_LETTER = re.compile(r"\p{L}")


def _first_word_start(sentence: str) -> int:
    match = _LETTER.search(sentence)
    return match.start() if match else 0


def _format_number(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:g}"


_TENS = frozenset(range(20, 100, 10))


def _words_to_number(phrase: str) -> float | None:
    total = 1.0
    seen = False
    for word in phrase.casefold().replace("-", " ").split():
        if word not in _UNITS:  # "a"
            continue
        value = _UNITS[word]
        if seen and (word.startswith("dozen") or word == "hundred"):  # "two dozen", "a hundred"
            total *= value
        elif seen and value < 10 and total in _TENS:  # "twenty-seven", "sixty five"
            total += value
        else:
            total = value
        seen = True
    return total if seen else None


@dataclass(frozen=True, slots=True)
class Fact:
    kind: str  # "number", "date", "entity", "quote"
    key: str  # normalised form used for comparison
    text: str  # as written


def extract_facts(sentence: str, counting_words: bool = False, language: int = ENGLISH) -> list[Fact]:
    """All facts of a sentence; numbers that are part of a date are dates only.

    Small number words ("two countries") are counting words, not reportable figures; with
    ``counting_words`` they are facts too, so that a canonical's "five" states a variant's "5".
    ``language``: that of the sentence's document (``dedup.languages``). A name that opens the
    sentence loses a first word that is one of its function words ("Die Stadt Lindenau"), and
    in a language that capitalises every noun a name takes two words: a lone capitalised word
    is no sign of one there.
    """
    return list(_facts_of(sentence, counting_words, language))


def extract_figures(sentence: str, counting_words: bool = False) -> list[Fact]:
    """The dates and numbers of ``extract_facts`` alone (the same facts of those kinds):
    what states a date or number is a date or number, while names and quotes are matched on
    words, so a canonical's names and quotes need not be extracted."""
    return list(_figures_of(sentence, counting_words))


# The versions of a story repeat most of each other's sentences: each is read once per worker.
@lru_cache(maxsize=1 << 16)
def _figures_of(sentence: str, counting_words: bool) -> tuple[Fact, ...]:
    facts: list[Fact] = []
    taken: list[tuple[int, int]] = []
    # Every date pattern but the weekday one, and every figure, has a digit: most sentences
    # skip most patterns.
    has_digit = _DIGIT.search(sentence) is not None
    # Patterns with case-insensitive word alternations cost 5-20 us a sentence each; one pass
    # for the sentence's words, and a set test per pattern, skip them where they cannot match.
    ascii_words = set(_ASCII_WORD.findall(sentence.casefold()))
    for pattern, to_key, cues in _DATE_PATTERNS if has_digit else _DATE_PATTERNS[-1:]:
        if cues is not None and cues.isdisjoint(ascii_words):
            continue
        for m in pattern.finditer(sentence):
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append(m.span())
            facts.append(Fact("date", to_key(m), m[0]))
    for m in _NUMBER.finditer(sentence) if has_digit else ():
        if any(m.start() < e and s < m.end() for s, e in taken):
            continue
        value = float(m[1].replace(",", ""))
        unit = (m[2] or "").casefold()
        if unit in _SCALES:
            value *= _SCALES[unit]
        suffix = "%" if unit in ("%", "percent", "per cent") else ""
        facts.append(Fact("number", _format_number(value) + suffix, m[0].strip()))
    for m in _NUMBER_WORDS.finditer(sentence) if not _NUMBER_WORD_CUES.isdisjoint(ascii_words) else ():
        value = _words_to_number(m[1])
        # "two countries" and a bare "dozens" are counting words, not reportable figures.
        bare = m[1].casefold() in ("dozen", "dozens", "hundred")
        if value is None or bare or (value < 10 and not m[2] and not counting_words):
            continue
        if m[2]:
            value *= _SCALES[m[2].casefold()]
        facts.append(Fact("number", _format_number(value), m[0].strip()))
    return tuple(facts)


# Languages that capitalise every noun (wordfreq's codes).
NOUN_CAPITALISING_LANGUAGES = frozenset({"de"})


@lru_cache(maxsize=1 << 16)
def _facts_of(sentence: str, counting_words: bool, language: int = ENGLISH) -> tuple[Fact, ...]:
    facts = list(_figures_of(sentence, counting_words))
    # A sentence's capitalised first word is dropped from a name when it is a function word of
    # the document's language too ("Die Stadt Lindenau"; inside a name, "de" stays).
    openers = language_stopwords(language)
    min_words = 2 if language_code(language) in NOUN_CAPITALISING_LANGUAGES else 1
    for m in _QUOTE.finditer(sentence) if any(q in sentence for q in _OPENING_QUOTES) else ():
        words = content_tokens(m[1])
        if len(words) >= 2:
            facts.append(Fact("quote", " ".join(words), m[1].strip(" ,.;:")))
    first_word = _first_word_start(sentence)
    for m in _ENTITY.finditer(sentence):
        words = m[0].split()
        if m.start() == first_word:
            # Sentence-initial capitals say nothing: "Speaking at...", "Neither Kabul nor...".
            if len(words) == 1:
                continue
            first = words[0].lower()
            if first in openers or first in _SENTENCE_OPENERS or first.endswith(("ing", "ed", "ly")):
                words = words[1:]
        words = [w for w in words if w.lower() not in STOPWORDS]
        while words and words[0].lower().strip("'.") in _GENERIC_CAPS:
            words = words[1:]
        if len(words) < min_words or all(w.lower() in _GENERIC_CAPS for w in words):
            continue
        name = " ".join(words).strip("'.-")
        if any(ch.isalpha() for ch in name) and not name.isdigit():
            facts.append(Fact("entity", name.lower(), name))
    return tuple(facts)
