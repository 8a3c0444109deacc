"""Line-level rules for what is not the article: widgets, comment threads, bylines, bios,
section headings. Shared by the plain-text cleaner and the HTML post-filter so both
inputs are cleaned the same way."""

from __future__ import annotations

import re as stdlib_re
from collections import Counter
from dataclasses import dataclass

import regex as re

# Whole lines that are page furniture, never article content.
_WIDGET = re.compile(
    r"""^(?:
        listen\ to\ (?:this|the)\ (?:article|story)(?:\ .{0,20})?
      | (?:\d+\ min(?:ute)?s?\ )?listen
      | fact[\ -]?check(?:er|ed)?
      | verify\ the\ accuracy\ of\ this\ article.*
      | see\ what\ people\ are\ (?:discussing|saying).*
      | (?:share|tweet|email|print|copy\ link|save)(?:\ (?:this|the))?(?:\ (?:article|story|page|on\ \w+))?
      | share\ (?:on|via)\ .{0,40}
      | (?:read|see)\ (?:more|next|also|the\ full\ story)\b.{0,80}
      | (?:related|more)\ (?:stories|articles|coverage|news|from\ .{1,40})
      | recommended(?:\ for\ you)? | advertisement | sponsored(?:\ content)? | ad
      | (?:sign\ up|subscribe)\b.{0,100}
      | (?:follow|like)\ us\ on\b.{0,60}
      | (?:click|tap)\ here\b.{0,80}
      | .{0,60}all\ rights\ reserved.{0,40}
      | (?:copyright\ )?©.{0,80}
      | (?:photo|image|video)\ (?:credit|by)\b.{0,80}
      | (?:download|get)\ (?:our|the)\ app\b.{0,60}
      | (?:updated|published|posted|last\ updated)\b.{0,40}\d.{0,40}
      | (?:what['’]s\ the\ story|key\ points|in\ brief|highlights|top\ stories)
      | now\ playing | media\ playback\ is\ unsupported\b.* | newsletter\ sign[\ -]?up\b.*
      | (?:update[ds]?|correction|clarification|editor['’]s\ note)(?:\ \p{N}.{0,30})?
      | this\ (?:post|story|article|report)\ (?:has\ been|was)\ (?:updated|revised|corrected)\b.{0,80}
      | \[[^\[\]]{5,200}\]
    )[.!:]?$""",
    re.I | re.X,
)

# A line that opens the comment thread: everything after it is readers, not the article.
_COMMENTS_START = re.compile(
    r"^(?:\d+\s+)?(?:comments?|responses?|replies|reader\s+comments|discussion|conversation"
    r"|join\s+the\s+(?:conversation|discussion)|leave\s+a\s+(?:comment|reply)|show\s+comments"
    r"|view\s+comments|add\s+a\s+comment|post\s+a\s+comment)(?:\s*\(\d+\))?\s*:?$",
    re.I,
)
_BYLINE = re.compile(r"^(?:by|written\s+by|reporting\s+by|edited\s+by|story\s+by)\s+\p{Lu}.{0,80}$", re.I)
_ROLE = re.compile(
    r"^(?:(?:senior|chief|staff|special|foreign|political|national)\s+)?"
    r"(?:correspondent|reporter|staff\s+writer|writer|editor|contributor|columnist|journalist|"
    r"news\s+desk|bureau\s+chief)$",
    re.I,
)
_BIO_CUES = [
    re.compile(p, re.I)
    for p in (
        r"\b(?:journalist|reporter|correspondent|writer|editor|columnist|author)\b",
        r"\byears?\s+of\s+experience\b|\bexperience\b",
        r"\bgraduate\s+of\b|\bgraduated\b|\bdegree\s+in\b|\buniversity\b|\balumn",
        r"\b(?:covered|covers|covering)\b",
        r"\b(?:worked|works|working)\s+(?:in|at|for|as)\b",
        r"\bbased\s+in\b",
        r"\bfollow\s+(?:him|her|them)\b|@\w+",
    )
]
_TERMINAL = re.compile(r"""[.!?…]["'”’)\]]*$|[:;]$""")
# Only lines this short are candidates for the link-header and promotion rules: article
# paragraphs that merely mention a newsletter are long.
MAX_FURNITURE_CHARS = 200
# Headers introducing links to other content, in the languages of the benchmark pages.
_RELATED_HEADER = re.compile(
    r"^\W*(read more|read also|also read|read next|related( articles?| stories| content| coverage| posts?)?|"
    r"see (also|more)|more (on this|from|stories)|also on|don['’]?t miss|recommended( for you| reading)?|"
    r"you (may|might) also like|watch( now)?|click here|"
    r"lea (también|más)|le puede interesar|vea también|te puede interesar|notas? relacionadas?|más sobre|"
    r"lo más (leído|visto)|(à )?lire aussi|voir aussi|leia (também|mais)|veja também|saiba mais|"
    r"lesen sie (auch|mehr)|mehr zum thema|auch interessant|schon gelesen|(zum )?weiterlesen|auch lesen|"
    r"mehr themen|weitere (aktuelle )?themen|top-themen|das (thema )?könnte (sie|dich) auch interessieren|"
    r"meist(-| )(gelesen|diskutiert)|leggi anche|czytaj (także|też|więcej)|zobacz (też|także)|baca juga)"
    r"\b\s*[:\-–—|»>]?",
    re.I,
)
# Calls to action: as a whole short line they are almost never article content.
_PROMOTION = re.compile(
    r"(subscribe|newsletter|sign up|signup|log ?in to|follow (us|him|her|them|\S+ on)|share (this|it) |"
    r"like this (story|article)|download (the|our)|get the (latest|best)|delivered (to|through) your|"
    r"in your inbox|all rights reserved|copyright|©|"
    r"abonnieren|abonnez|abonne|suscr[ií]b|inscreva|assine|iscriviti|folgen sie|s[ií]guenos|siga-nos|"
    r"zum newsletter|jetzt anmelden|unterstütze|hazte miembro|^anzeige\b|^\*?werbung\b|"
    r"nicht eingeloggt|affiliate[- ]links?|\bclick here\b)",
    re.I,
)
_NON_WORD = re.compile(r"[\W_]+")
# Photo credits and captions: a photo agency opening the line, or a credit closing it ("(Name/AP)",
# "(Photo: X)", "(Courtesy of X)", "© Name (AFP)", "Photographer: X").
_CAPTION = re.compile(
    r"^(?:AP:\s?Associated Press|Getty(?: Images)?(?: - \w+)?|Reuters|EPA|AFP|Splash News|Rex Features|"
    r"Barcroft Media|Alamy|Shutterstock|PA(?: Images)?)\s+\p{Lu}"
    r"|\((?:(?:AP\s+)?photo:?\s*)?[^()/]{2,60}/[^()]{2,60}\)$"
    r"|\((?:photo|image|picture|video)s?(?: credit)?:[^()]{2,80}\)$|\(courtesy of [^()]{2,80}\)$"
    r"|©\s?[^©.!?]{2,80}$|\bphotographer:\s?[^.!?]{2,80}$",
    re.I,
)
# Credit and contact lines closing an article.
_CREDIT = re.compile(
    r"\bcontributed(?: reporting)? (?:to|for) this (?:report|story|article)\b"
    r"|\bcontributed(?: reporting)? from \p{Lu}[\p{L}\s,.]{1,40}$|^[—–-]\s*with assistance (?:by|from)\b"
    r"|^\(?(?:reporting|writing|editing|additional reporting) by\b.{0,150}$"
    r"|\S+@\S+\.\w{2,}",  # an e-mail address in a short line: contact details
    re.I,
)
# Listing headers that open a run of teasers on the same line, whatever its length.
_LISTING = re.compile(
    r"^(?:related (?:stories|articles|content|coverage)|most (?:read|popular|viewed|shared))\b", re.I
)
# A bare links header ("Read more:", "Related:"): the short lines after it are the links.
_LINKS_HEADER = re.compile(
    r"^(?:read more|read also|also read|related(?: articles| stories| coverage| content)?|"
    r"more from [^:]{1,40}|see also|recommended(?: reading)?)\s*:?$",
    re.I,
)
# Embedded posts end with the author's handle and the date: not headings.
_EMBED = re.compile(r"\(@\w+\)\s+\p{L}+\.? \d{1,2}, \d{4}$|pic\.twitter\.com/\w+")
# Parenthesised stage directions in transcripts, "(SOUNDBITE OF ...)", are content, not headings.
_PAREN_LINE = re.compile(r"^\([^()]+\)$")


# --- cheap exact pre-checks ------------------------------------------------------------------
# Most lines are article prose that no rule removes, and the searches above scan the whole
# line. Each rule first asks whether the literal text it cannot match without is there at all:
# a plain substring test on the lower-cased line. The patterns match case-insensitively with
# simple case folding, under which an ASCII letter also matches exactly these characters
# whose lower case is not that letter: "İ" (U+0130, i) and "ſ" (U+017F, s). A line holding
# either skips the pre-checks (tests/test_extract.py re-derives this set and compares every
# rule with its plain regex on real and generated lines).
_FOLD_EXCEPTIONS = ("\u0130", "\u017f")


def _word_count(line: str) -> int:
    """``len(line.split())`` of a stripped line. A printable line holds no whitespace but " "
    (str.isprintable excludes every separator and control character but the ASCII space), so
    without a double space its words are its spaces plus one."""
    if line.isprintable() and "  " not in line:
        return line.count(" ") + 1 if line else 0
    return len(line.split())


def _lowered(line: str) -> str | None:
    """``line.lower()`` when substring tests on it decide case-insensitive literal matches."""
    if "\u0130" in line or "\u017f" in line:
        return None
    return line.lower()


# Literal openings of the _WIDGET alternatives (one of them must start the line, except for the
# "all rights reserved" alternative and an opening digit).
_WIDGET_OPENINGS = (
    "listen", "fact", "verify the accuracy of this article", "see what people are ",
    "share", "tweet", "email", "print", "copy link", "save", "read ", "see ", "related ", "more ",
    "recommended", "ad", "sponsored", "sign up", "subscribe", "follow us on", "like us on",
    "click here", "tap here", "copyright ", "©", "photo ", "image ", "video ", "download ", "get ",
    "updated", "published", "posted", "last updated", "what's the story", "what’s the story",
    "key points", "in brief", "highlights", "top stories", "now playing",
    "media playback is unsupported", "newsletter sign", "update", "correction", "clarification",
    "editor's note", "editor’s note", "this ", "[",
)  # fmt: skip
_LISTING_OPENINGS = ("related ", "most ")
# One of these is in every line _PROMOTION finds (a search over the whole line, unlike the
# anchored _RELATED_HEADER: worth a pre-check).
_PROMOTION_WORDS = (
    "subscribe", "newsletter", "sign up", "signup", "in to", "follow ", "share ", "like this ",
    "download ", "get the ", "delivered ", "in your inbox", "all rights reserved", "copyright",
    "©", "abonn", "suscr", "inscreva", "assine", "iscriviti", "folgen sie", "guenos", "siga-nos",
    "jetzt anmelden", "unterst", "hazte miembro", "anzeige", "werbung", "nicht eingeloggt",
    "affiliate", "click here",
)  # fmt: skip
# A plain substring search for any of them (stdlib re: literals only, no case folding).
_PROMOTION_WORD = stdlib_re.compile("|".join(map(stdlib_re.escape, _PROMOTION_WORDS)))
_CAPTION_AGENCIES = (
    "ap:", "getty", "reuters", "epa", "afp", "splash news", "rex features", "barcroft media",
    "alamy", "shutterstock", "pa",
)  # fmt: skip
_CREDIT_WORDS = ("@", "contributed", "ing by")
# Per _BIO_CUES entry: words one of which is in every line the cue finds.
_BIO_WORDS = (
    ("journalist", "reporter", "correspondent", "writer", "editor", "columnist", "author"),
    ("experience",),
    ("graduate", "degree", "university", "alumn"),
    ("cover",),
    ("work",),
    ("based",),
    ("follow", "@"),
)
_BYLINE_OPENINGS = ("by", "written", "reporting", "edited", "story")


def _widget(line: str, low: str | None) -> bool:
    """is_widget of a stripped line; ``low`` is ``_lowered(line)``."""
    first = line[:1]
    if low is None or not first.isascii() or first.isdigit():  # "\d+ min listen": any digit
        maybe_widget = maybe_listing = True
    else:
        maybe_widget = low.startswith(_WIDGET_OPENINGS) or "all rights reserved" in low
        maybe_listing = low.startswith(_LISTING_OPENINGS)
    if (maybe_widget and _WIDGET.match(line)) or (maybe_listing and _LISTING.match(line)):
        return True
    if len(line) > MAX_FURNITURE_CHARS:
        return False
    if _RELATED_HEADER.match(line):  # anchored: cheap
        return True
    if low is not None and not _PROMOTION_WORD.search(low):
        return False
    return bool(_PROMOTION.search(line))


def _caption(line: str, n_words: int, low: str | None) -> bool:
    """is_caption of a stripped line of ``n_words`` words."""
    if n_words > 80:
        return False
    if low is not None and not (
        line.endswith(")") or "©" in line or "photographer:" in low or low.startswith(_CAPTION_AGENCIES)
    ):
        return False
    return bool(_CAPTION.search(line))


def _credit(line: str, n_words: int, low: str | None) -> bool:
    """is_credit of a stripped line of ``n_words`` words."""
    if n_words > 40:
        return False
    if low is not None and line[:1] not in "—–-" and not any(word in low for word in _CREDIT_WORDS):
        return False
    return bool(_CREDIT.search(line))


def _byline(line: str, n_words: int, low: str | None) -> bool:
    """is_byline of a stripped line of ``n_words`` words."""
    if (low is None or low.startswith(_BYLINE_OPENINGS)) and _BYLINE.match(line) and n_words <= 12:
        return True
    # A role is at most three words ("senior staff writer").
    return n_words <= 3 and bool(_ROLE.match(line))


def _bio(line: str, n_words: int, low: str | None) -> bool:
    """is_bio of a line of ``n_words`` words."""
    if n_words > 90:
        return False
    if low is not None:
        # Three of the seven cues are needed: five cues without any of their words (_BIO_WORDS,
        # written out, the cheapest first: this runs on every line) rule a bio out.
        absent = (
            ("experience" not in low)
            + ("cover" not in low)
            + ("work" not in low)
            + ("based" not in low)
            + ("follow" not in low and "@" not in low)
        )
        if absent == 5:
            return False
        absent += (
            "graduate" not in low and "degree" not in low and "university" not in low and "alumn" not in low
        )
        if absent == 5:
            return False
        absent += (
            "journalist" not in low
            and "reporter" not in low
            and "correspondent" not in low
            and "writer" not in low
            and "editor" not in low
            and "columnist" not in low
            and "author" not in low
        )
        if absent >= 5:
            return False
    return sum(1 for cue in _BIO_CUES if cue.search(line)) >= 3


def _heading(line: str, n_words: int, max_words: int) -> bool:
    """is_heading of a stripped line of ``n_words`` words."""
    return (
        bool(line)
        and n_words <= max_words
        and not _TERMINAL.search(line)
        and not _EMBED.search(line)
        and not (_PAREN_LINE.match(line) and not _CAPTION.search(line))
    )


def is_widget(line: str) -> bool:
    """Page furniture: listen/share/fact-check widgets, link headers, calls to action."""
    line = line.strip()
    return _widget(line, _lowered(line))


MAX_LINK_WORDS = 25
_GALLERY_WORDS = 5


def _gallery_prefix(line: str) -> str | None:
    return _gallery_prefix_of(line.split())


def _gallery_prefix_of(words: list[str]) -> str | None:
    return " ".join(words[:_GALLERY_WORDS]) if len(words) > _GALLERY_WORDS + 3 else None


def _gallery_prefixes(lines: list[str], words_of: list[list[str]] | None = None) -> set[str]:
    """Opening words shared by three or more lines that go on differently: a gallery's caption
    run. Lines that also go on alike are one sentence repeated (caption and body), not a gallery.
    ``words_of`` holds each line's ``split()`` when the caller already has it (its first ten
    words are enough: ``split(None, 10)``)."""
    if words_of is None:
        words_of = [line.split() for line in lines]
    prefixes = [_gallery_prefix_of(words) for words in words_of]
    # Only an opening shared by three lines can have three endings: most texts have none.
    shared = {prefix for prefix, n in Counter(prefixes).items() if n >= 3 and prefix is not None}
    if not shared:
        return set()
    endings: dict[str, set[str]] = {}
    for prefix, words in zip(prefixes, words_of, strict=True):
        if prefix in shared:
            endings.setdefault(prefix, set()).add(" ".join(words[_GALLERY_WORDS : 2 * _GALLERY_WORDS]))
    return {prefix for prefix, ends in endings.items() if len(ends) >= 3}


def is_caption(line: str) -> bool:
    """A photo caption or credit: an agency name opening it or a credit closing it."""
    line = line.strip()
    return _caption(line, _word_count(line), _lowered(line))


def is_credit(line: str) -> bool:
    """Contributor, reporting/editing credit or contact line."""
    line = line.strip()
    return _credit(line, _word_count(line), _lowered(line))


def _same_words(a: str, b: str) -> bool:
    return _NON_WORD.sub(" ", a.lower()).strip() == _NON_WORD.sub(" ", b.lower()).strip()


def is_comments_start(line: str) -> bool:
    return bool(_COMMENTS_START.match(line.strip()))


def is_byline(line: str) -> bool:
    line = line.strip()
    return _byline(line, _word_count(line), _lowered(line))


def is_bio(line: str) -> bool:
    """An author biography: several bio cues in one paragraph of modest length."""
    return _bio(line, _word_count(line.strip()), _lowered(line))


def is_heading(line: str, max_words: int = 14) -> bool:
    """A short line with no sentence-ending punctuation: a headline, section heading or
    caption label, not body prose."""
    line = line.strip()
    return _heading(line, _word_count(line), max_words)


@dataclass(frozen=True, slots=True)
class CleanedText:
    title: str | None
    body: str
    dropped: tuple[tuple[str, str], ...]  # (rule, line) for every removed line, for audits
    n_words: int  # len(body.split()): the body lines' counts, which the rules read anyway


def clean_lines(lines: list[str], *, plain_text: bool, known_title: str | None = None) -> CleanedText:
    """Apply every rule to a document's lines (already normalised and non-empty).

    ``plain_text`` is for text without markup: a headline-like line among the first three
    becomes the title, and short unpunctuated lines (section headings, kickers) and lines
    repeated three times (templates, spam) go. HTML keeps its subheadings and repeated list
    lines: trafilatura already told structure from furniture, and on the labelled page sets
    both rules cost recall (benchmarks/extraction.py); canonicalisation never reports a
    heading as an addition. A ``known_title`` (from page metadata) repeated among the first
    three lines is dropped.
    """
    dropped: list[tuple[str, str]] = []

    # Every rule reads a line stripped, its word count and its lower case: once per line.
    stripped = [line.strip() for line in lines]
    word_counts = [_word_count(line) for line in stripped]

    # 1. The comment thread: cut at its opening line (only once some body precedes it). The
    # opening line is at most six words ("123 join the conversation (45) :").
    for i, line in enumerate(stripped):
        if i > 0 and word_counts[i] <= 6 and _COMMENTS_START.match(line):
            dropped.extend(("comments", rest) for rest in lines[i:])
            lines, stripped, word_counts = lines[:i], stripped[:i], word_counts[:i]
            break
    lowered = [_lowered(line) for line in stripped]

    # 2. Lines repeated three or more times are templates or spam, not prose; so are runs of
    # lines opening with the same words (photo galleries: "Photos: <gallery title> <caption>").
    counts = Counter(lines)
    # The first ten words (and the rest, unsplit) are all the gallery rule reads, and only of
    # lines of more than eight words.
    heads = (
        [
            line.split(None, 2 * _GALLERY_WORDS) if n > _GALLERY_WORDS + 3 else []
            for line, n in zip(stripped, word_counts, strict=True)
        ]
        if plain_text
        else []
    )
    galleries = _gallery_prefixes(lines, heads) if plain_text else set()
    kept: list[int] = []
    in_links = False
    for i, line in enumerate(lines):
        s, n_words, low = stripped[i], word_counts[i], lowered[i]
        # After a bare "Read more:" header, the short lines that follow are links to other stories.
        in_links = in_links and n_words <= MAX_LINK_WORDS
        if plain_text and counts[line] >= 3 and n_words < 40:
            dropped.append(("repeated", line))
        elif galleries and _gallery_prefix_of(heads[i]) in galleries:
            dropped.append(("gallery", line))
        elif plain_text and in_links:
            dropped.append(("links", line))
        elif _widget(s, low):
            dropped.append(("widget", line))
            in_links = plain_text and i > 0 and bool(_LINKS_HEADER.match(s))
        elif plain_text and _caption(s, n_words, low):
            dropped.append(("caption", line))
        elif plain_text and _credit(s, n_words, low):
            dropped.append(("credit", line))
        else:
            kept.append(i)

    # 3. The title: a headline among the first lines, before any prose paragraph is read as one.
    title = None
    if known_title:
        for k, i in enumerate(kept[:3]):
            if len(lines[i]) > 10 and _same_words(lines[i], known_title):
                dropped.append(("title", lines[i]))
                del kept[k]
                break
    elif plain_text:
        for k, i in enumerate(kept[:3]):
            n_words = word_counts[i]
            if _heading(stripped[i], n_words, 25) and not _byline(stripped[i], n_words, lowered[i]):
                title = lines[i]
                dropped.append(("title", title))
                del kept[k]
                break

    # 4. Bylines, author roles, bios and headings. Above the first prose paragraph, longer
    # unpunctuated lines are standfirsts and kickers that restate the headline.
    body: list[str] = []
    body_words = 0
    for i in kept:
        line, s, n_words, low = lines[i], stripped[i], word_counts[i], lowered[i]
        if _byline(s, n_words, low):
            dropped.append(("byline", line))
        elif _bio(line, n_words, low):
            dropped.append(("bio", line))
        elif plain_text and _heading(s, n_words, 30 if not body else 14):
            dropped.append(("heading", line))
        else:
            body.append(line)
            body_words += n_words
    return CleanedText(title=title, body="\n".join(body), dropped=tuple(dropped), n_words=body_words)
