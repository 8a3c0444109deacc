from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import pytest
import regex

from conftest import ARTICLE_PARAGRAPHS, SEEDS, SHARED, article_html, requires_shared
from dedup.extract import boilerplate as B
from dedup.extract import extract_document
from dedup.extract.boilerplate import is_bio, is_heading, is_widget
from dedup.extract.text import clean_plain_text
from dedup.records import Document, Reject, SourceRecord
from dedup.text import normalize

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
        if isinstance(doc, Document):  # counted by the line rules, as the text splits
            assert doc.n_words == len(doc.text.split())
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


# --- the cleaner's pre-checks decide nothing on their own --------------------------------------
# Every rule now asks cheap questions (a substring, the opening, the word count) before its
# pattern; the pattern alone decides. Here the rules and clean_lines are compared with the
# pattern-only definitions they replaced, on the seeds, the shared stories and generated lines
# built from the words and characters the pre-checks look at.


def _ref_widget(line: str) -> bool:
    line = line.strip()
    if B._WIDGET.match(line) or B._LISTING.match(line):
        return True
    return len(line) <= B.MAX_FURNITURE_CHARS and bool(
        B._RELATED_HEADER.match(line) or B._PROMOTION.search(line)
    )


def _ref_caption(line: str) -> bool:
    line = line.strip()
    return len(line.split()) <= 80 and bool(B._CAPTION.search(line))


def _ref_credit(line: str) -> bool:
    line = line.strip()
    return len(line.split()) <= 40 and bool(B._CREDIT.search(line))


def _ref_comments_start(line: str) -> bool:
    return bool(B._COMMENTS_START.match(line.strip()))


def _ref_byline(line: str) -> bool:
    line = line.strip()
    return bool(B._BYLINE.match(line) and len(line.split()) <= 12) or bool(B._ROLE.match(line))


def _ref_bio(line: str) -> bool:
    if len(line.split()) > 90:
        return False
    return sum(1 for cue in B._BIO_CUES if cue.search(line)) >= 3


def _ref_heading(line: str, max_words: int = 14) -> bool:
    line = line.strip()
    return (
        bool(line)
        and len(line.split()) <= max_words
        and not B._TERMINAL.search(line)
        and not B._EMBED.search(line)
        and not (B._PAREN_LINE.match(line) and not B._CAPTION.search(line))
    )


def _ref_gallery_prefix(line: str) -> str | None:
    words = line.split()
    return " ".join(words[:5]) if len(words) > 8 else None


def _ref_gallery_prefixes(lines: list[str]) -> set[str]:
    endings: dict[str, set[str]] = {}
    for line in lines:
        if (prefix := _ref_gallery_prefix(line)) is not None:
            endings.setdefault(prefix, set()).add(" ".join(line.split()[5:10]))
    return {prefix for prefix, ends in endings.items() if len(ends) >= 3}


def _ref_clean_lines(lines: list[str], *, plain_text: bool, known_title: str | None = None) -> B.CleanedText:
    dropped: list[tuple[str, str]] = []
    for i, line in enumerate(lines):
        if i > 0 and _ref_comments_start(line):
            dropped.extend(("comments", rest) for rest in lines[i:])
            lines = lines[:i]
            break
    counts = Counter(lines)
    galleries = _ref_gallery_prefixes(lines) if plain_text else set()
    kept: list[str] = []
    in_links = False
    for i, line in enumerate(lines):
        in_links = in_links and len(line.split()) <= B.MAX_LINK_WORDS
        if plain_text and counts[line] >= 3 and len(line.split()) < 40:
            dropped.append(("repeated", line))
        elif galleries and _ref_gallery_prefix(line) in galleries:
            dropped.append(("gallery", line))
        elif plain_text and in_links:
            dropped.append(("links", line))
        elif _ref_widget(line):
            dropped.append(("widget", line))
            in_links = plain_text and i > 0 and bool(B._LINKS_HEADER.match(line.strip()))
        elif plain_text and _ref_caption(line):
            dropped.append(("caption", line))
        elif plain_text and _ref_credit(line):
            dropped.append(("credit", line))
        else:
            kept.append(line)
    title = None
    if known_title:
        for i, line in enumerate(kept[:3]):
            if len(line) > 10 and B._same_words(line, known_title):
                dropped.append(("title", line))
                del kept[i]
                break
    elif plain_text:
        for i, line in enumerate(kept[:3]):
            if _ref_heading(line, max_words=25) and not _ref_byline(line):
                title = line
                dropped.append(("title", line))
                del kept[i]
                break
    body: list[str] = []
    for line in kept:
        if _ref_byline(line):
            dropped.append(("byline", line))
        elif _ref_bio(line):
            dropped.append(("bio", line))
        elif plain_text and _ref_heading(line, max_words=30 if not body else 14):
            dropped.append(("heading", line))
        else:
            body.append(line)
    return B.CleanedText(
        title=title, body="\n".join(body), dropped=tuple(dropped), n_words=len("\n".join(body).split())
    )


# Words, openings and characters the pre-checks test for, in several cases, with the
# characters that case-fold to ASCII letters ("İ", "ſ", "K" Kelvin) and other look-alikes.
_LINE_PIECES = [
    "Listen to this article", "2 min listen", "Fact-Checker", "Verify the accuracy of this article",
    "See what people are saying", "Share", "Share on Facebook", "Tweet this", "Email", "Save", "Read more",
    "Read more:", "Related stories", "Related:", "Most read", "More from Reuters", "Recommended for you",
    "Advertisement", "Ad", "Sponsored content", "Sign up", "Subscribe now", "Follow us on X",
    "Click here", "All rights reserved", "Copyright 2024", "©", "© AFP", "Photo credit", "Get the app",
    "Updated 3 March 2024", "Published 12:30", "What’s the story", "Key points", "In brief", "Now playing",
    "Media playback is unsupported on your device", "Newsletter sign-up", "Correction:", "Editor's note",
    "This story has been updated", "[Embedded content: a video]", "newsletter", "in your inbox",
    "log in to", "download the", "get the latest", "abonnieren", "suscríbete", "síguenos", "Anzeige",
    "*Werbung", "affiliate links", "Lesen Sie auch:", "don't miss", "AP: Associated Press", "Getty Images",
    "Reuters", "PA Images", "(AP Photo/Jane Doe)", "(Photo: John Smith)", "(Courtesy of the family)",
    "Photographer: Jane", "John Smith contributed to this report", "contributed reporting from Paris",
    "— With assistance from Bloomberg", "Reporting by Jane Doe; editing by Tom", "jane@example.com",
    "By Jane Porter", "Written by", "Senior correspondent", "staff writer", "Bureau chief", "Comments",
    "Senior staff writer", "Foreign bureau chief", "Chief news desk", "33 Comments", "Join the conversation",
    "Leave a reply (3):", "12 join the conversation (45) :", "journalist", "reporter", "editor",
    "author", "years of experience", "experience", "graduate of", "degree in", "University", "alumna",
    "covers", "covered", "worked at", "works for", "based in", "follow her", "@janedoe", "pic.twitter.com/x",
    "(@jane) March 3, 2024", "(SOUNDBITE OF MUSIC)", "İ", "ſ", "K", "BASED IN", "Baſed in", "EXPERİENCE",
    "the", "minister", "said", "on", "Tuesday", "that", "talks", "had", "failed", "and", "a", "new", "plan",
    "would", "follow", ".", ",", ":", ";", "!", "?", ")", "(", "…", "“", "”", "’", "-", "—", "7", "2024",
]  # fmt: skip


def _generated_lines(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        pieces = [rng.choice(_LINE_PIECES) for _ in range(rng.choice([1, 1, 2, 3, 5, 12, 40, 100]))]
        line = rng.choice([" ", "", "  "]).join(pieces)
        line = rng.choice([str, str, str.upper, str.lower, str.title])(line)
        lines.append(rng.choice(["", " ", "\t"]) + line + rng.choice(["", " ", "."]))
    return lines


def _real_lines() -> list[str]:
    lines = [line for p in sorted(SEEDS.glob("*.txt")) for line in p.read_text(encoding="utf-8").splitlines()]
    stories = SHARED / "data" / "stories"
    for path in sorted(stories.glob("*.jsonl")) if stories.is_dir() else []:
        for record in map(json.loads, path.read_text(encoding="utf-8").splitlines()):
            lines.extend((record.get("text") or "").splitlines())
    return [line for line in lines if line.strip()]


def test_line_rules_equal_their_patterns() -> None:
    for line in _real_lines() + _generated_lines(6000, 1):
        assert B.is_widget(line) == _ref_widget(line), line
        assert B.is_caption(line) == _ref_caption(line), line
        assert B.is_credit(line) == _ref_credit(line), line
        assert B.is_byline(line) == _ref_byline(line), line
        assert B.is_bio(line) == _ref_bio(line), line
        assert B.is_comments_start(line) == _ref_comments_start(line), line
        for max_words in (14, 25, 30):
            assert B.is_heading(line, max_words) == _ref_heading(line, max_words), line


def test_clean_lines_equals_the_rule_by_rule_cleaner() -> None:
    rng = random.Random(4)
    real = _real_lines()
    generated = _generated_lines(4000, 2)
    documents = [
        [line for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        for p in sorted(SEEDS.glob("*.txt"))
    ]
    for _ in range(300):
        doc = [rng.choice(real if rng.random() < 0.6 else generated) for _ in range(rng.randint(1, 30))]
        # Galleries and repeats: lines sharing five opening words, some going on alike.
        opening = " ".join(rng.choice(_LINE_PIECES) for _ in range(5))
        doc += [f"{opening} {rng.choice(generated)}" for _ in range(rng.randint(0, 4))]
        doc += [doc[0]] * rng.randint(0, 3)
        rng.shuffle(doc)
        if rng.random() < 0.3:  # a comment thread
            doc.insert(
                rng.randint(0, len(doc)), rng.choice(["33 Comments", "12 join the conversation (45) :"])
            )
        documents.append([line for line in doc if line.strip()])
    for lines in documents:
        for plain_text, known_title in (
            (True, None),
            (False, None),
            (False, lines[1] if len(lines) > 1 else None),
        ):
            got = B.clean_lines(list(lines), plain_text=plain_text, known_title=known_title)
            assert got == _ref_clean_lines(list(lines), plain_text=plain_text, known_title=known_title)


def test_case_folding_exceptions_are_exact() -> None:
    """The characters an ASCII letter matches case-insensitively whose lower case is not that
    letter: the pre-checks skip lines holding one (the patterns use simple case folding)."""
    letter = regex.compile(r"[a-z]", regex.I)
    ascii_lower = set("abcdefghijklmnopqrstuvwxyz")
    found = {c for c in map(chr, range(0x110000)) if letter.fullmatch(c) and c.lower() not in ascii_lower}
    assert found == set(B._FOLD_EXCEPTIONS)


def test_word_count_of_printable_lines() -> None:
    assert not [c for c in map(chr, range(0x110000)) if c.isspace() and c != " " and c.isprintable()]
    for line in [*_generated_lines(3000, 3), "", "a", "a  b", "a\u00a0b", "a\x1fb", "a\u1680b", "a\u2003b"]:
        line = line.strip()
        assert B._word_count(line) == len(line.split()), repr(line)


def test_every_bio_cue_needs_one_of_its_words() -> None:
    """_BIO_WORDS (written out in boilerplate._bio): a line a cue finds holds one of its words."""
    assert len(B._BIO_WORDS) == len(B._BIO_CUES)
    for line in _real_lines() + _generated_lines(6000, 5):
        low = B._lowered(line)
        for cue, words in zip(B._BIO_CUES, B._BIO_WORDS, strict=True):
            if low is not None and cue.search(line):
                assert any(word in low for word in words), (cue.pattern, line)


def test_plain_text_lines_are_the_normalised_non_empty_lines() -> None:
    """clean_plain_text splits normalize()'s output on "\\n" instead of splitlines() + strip()."""
    rng = random.Random(6)
    breaks = ["\n", "\r\n", "\r", "\u2028", "\x85", "\x0b", "\x1c", "\n\n", " \n ", "\t\n"]
    for _ in range(500):
        text = "".join(
            rng.choice(_LINE_PIECES) + rng.choice([" ", "\u00a0", "  ", *breaks]) for _ in range(30)
        )
        lines = [line for line in normalize(text).splitlines() if line.strip()]
        assert clean_plain_text(text) == B.clean_lines(lines, plain_text=True)
