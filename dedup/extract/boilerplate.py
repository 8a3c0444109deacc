"""Line-level rules for what is not the article: widgets, comment threads, bylines, bios,
section headings. Shared by the plain-text cleaner and the HTML post-filter so both
inputs are cleaned the same way."""

from __future__ import annotations

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


def is_widget(line: str) -> bool:
    """Page furniture: listen/share/fact-check widgets, link headers, calls to action."""
    line = line.strip()
    if _WIDGET.match(line) or _LISTING.match(line):
        return True
    return len(line) <= MAX_FURNITURE_CHARS and bool(_RELATED_HEADER.match(line) or _PROMOTION.search(line))


MAX_LINK_WORDS = 25
_GALLERY_WORDS = 5


def _gallery_prefix(line: str) -> str | None:
    words = line.split()
    return " ".join(words[:_GALLERY_WORDS]) if len(words) > _GALLERY_WORDS + 3 else None


def _gallery_prefixes(lines: list[str]) -> set[str]:
    """Opening words shared by three or more lines that go on differently: a gallery's caption
    run. Lines that also go on alike are one sentence repeated (caption and body), not a gallery."""
    endings: dict[str, set[str]] = {}
    for line in lines:
        if (prefix := _gallery_prefix(line)) is not None:
            endings.setdefault(prefix, set()).add(" ".join(line.split()[_GALLERY_WORDS : 2 * _GALLERY_WORDS]))
    return {prefix for prefix, ends in endings.items() if len(ends) >= 3}


def is_caption(line: str) -> bool:
    """A photo caption or credit: an agency name opening it or a credit closing it."""
    line = line.strip()
    return len(line.split()) <= 80 and bool(_CAPTION.search(line))


def is_credit(line: str) -> bool:
    """Contributor, reporting/editing credit or contact line."""
    line = line.strip()
    return len(line.split()) <= 40 and bool(_CREDIT.search(line))


def _same_words(a: str, b: str) -> bool:
    return _NON_WORD.sub(" ", a.lower()).strip() == _NON_WORD.sub(" ", b.lower()).strip()


def is_comments_start(line: str) -> bool:
    return bool(_COMMENTS_START.match(line.strip()))


def is_byline(line: str) -> bool:
    line = line.strip()
    return bool(_BYLINE.match(line) and len(line.split()) <= 12) or bool(_ROLE.match(line))


def is_bio(line: str) -> bool:
    """An author biography: several bio cues in one paragraph of modest length."""
    if len(line.split()) > 90:
        return False
    return sum(1 for cue in _BIO_CUES if cue.search(line)) >= 3


def is_heading(line: str, max_words: int = 14) -> bool:
    """A short line with no sentence-ending punctuation: a headline, section heading or
    caption label, not body prose."""
    line = line.strip()
    return (
        bool(line)
        and len(line.split()) <= max_words
        and not _TERMINAL.search(line)
        and not _EMBED.search(line)
        and not (_PAREN_LINE.match(line) and not _CAPTION.search(line))
    )


@dataclass(frozen=True, slots=True)
class CleanedText:
    title: str | None
    body: str
    dropped: tuple[tuple[str, str], ...]  # (rule, line) for every removed line, for audits


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

    # 1. The comment thread: cut at its opening line (only once some body precedes it).
    for i, line in enumerate(lines):
        if i > 0 and is_comments_start(line):
            dropped.extend(("comments", rest) for rest in lines[i:])
            lines = lines[:i]
            break

    # 2. Lines repeated three or more times are templates or spam, not prose; so are runs of
    # lines opening with the same words (photo galleries: "Photos: <gallery title> <caption>").
    counts = Counter(lines)
    galleries = _gallery_prefixes(lines) if plain_text else set()
    kept: list[str] = []
    in_links = False
    for i, line in enumerate(lines):
        # After a bare "Read more:" header, the short lines that follow are links to other stories.
        in_links = in_links and len(line.split()) <= MAX_LINK_WORDS
        if plain_text and counts[line] >= 3 and len(line.split()) < 40:
            dropped.append(("repeated", line))
        elif galleries and _gallery_prefix(line) in galleries:
            dropped.append(("gallery", line))
        elif plain_text and in_links:
            dropped.append(("links", line))
        elif is_widget(line):
            dropped.append(("widget", line))
            in_links = plain_text and i > 0 and bool(_LINKS_HEADER.match(line.strip()))
        elif plain_text and is_caption(line):
            dropped.append(("caption", line))
        elif plain_text and is_credit(line):
            dropped.append(("credit", line))
        else:
            kept.append(line)

    # 3. The title: a headline among the first lines, before any prose paragraph is read as one.
    title = None
    if known_title:
        for i, line in enumerate(kept[:3]):
            if len(line) > 10 and _same_words(line, known_title):
                dropped.append(("title", line))
                del kept[i]
                break
    elif plain_text:
        for i, line in enumerate(kept[:3]):
            if is_heading(line, max_words=25) and not is_byline(line):
                title = line
                dropped.append(("title", line))
                del kept[i]
                break

    # 4. Bylines, author roles, bios and headings. Above the first prose paragraph, longer
    # unpunctuated lines are standfirsts and kickers that restate the headline.
    body: list[str] = []
    for line in kept:
        if is_byline(line):
            dropped.append(("byline", line))
        elif is_bio(line):
            dropped.append(("bio", line))
        elif plain_text and is_heading(line, max_words=30 if not body else 14):
            dropped.append(("heading", line))
        else:
            body.append(line)
    return CleanedText(title=title, body="\n".join(body), dropped=tuple(dropped))
