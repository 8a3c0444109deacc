"""Shared fixtures. Tests use the real libraries (trafilatura, datasketch, pyarrow) on real files."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
SHARED = ROOT.parent / "shared"

requires_shared = pytest.mark.skipif(
    not (SHARED / "data").is_dir(),
    reason="../shared/data (labelled stories, extraction pages) is not beside this clone",
)

ARTICLE_PARAGRAPHS = [
    "The city council of Springfield voted on Tuesday to close the old river bridge after engineers "
    "found deep cracks in two of its supporting piers during a routine inspection last month.",
    "Mayor Linda Hargreaves said the closure would last at least eighteen months while the state "
    "transportation department designs a replacement, which is expected to cost $42 million.",
    "Commuters who cross the river each day will be directed to the Elm Street crossing, about three "
    "miles north, where the council plans to add a temporary traffic signal and a bus lane.",
    "Local businesses near the bridge warned that the detour could cut their trade sharply, and the "
    "chamber of commerce asked the council for a relief fund to help shops through the closure.",
]


def article_html(
    title: str = "Springfield closes river bridge after cracks found", paragraphs: list[str] | None = None
) -> str:
    """A realistic news page: navigation, share widgets, the article, related links, comments."""
    body = "\n".join(f"<p>{p}</p>" for p in (paragraphs or ARTICLE_PARAGRAPHS))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | Springfield Gazette</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="2024-03-12T09:30:00Z">
<meta name="author" content="Jane Porter">
<link rel="canonical" href="https://gazette.example.com/news/bridge-closure"></head>
<body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li></ul></nav>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">Tweet</a></div>
<article><h1>{title}</h1><p class="byline">By Jane Porter</p>
{body}
</article>
<aside><h3>Related stories</h3><ul><li><a href="/a">Council budget approved</a></li>
<li><a href="/b">New park opens downtown</a></li></ul></aside>
<section id="comments"><h3>3 Comments</h3>
<div class="comment"><p>This bridge has been falling apart for years, about time!</p></div>
<div class="comment"><p>Great reporting as always, thank you.</p></div></section>
<footer><p>© 2024 Springfield Gazette. All rights reserved.</p></footer>
</body></html>"""


@pytest.fixture
def seeds_dir(tmp_path: Path) -> Path:
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def mixed_dir(tmp_path: Path) -> Path:
    """One folder with every supported format plus bad files of each kind."""
    d = tmp_path / "mixed"
    (d / "web").mkdir(parents=True)
    (d / "web" / "bridge.html").write_text(article_html(), encoding="utf-8")
    (d / "web" / "empty-page.html").write_text(
        "<html><body><nav><a href='/'>Home</a></nav><p>Cookies</p></body></html>", encoding="utf-8"
    )
    (d / "web" / "latin1.htm").write_bytes(
        article_html(
            title="Café owners protest new rules",
            paragraphs=[p.replace("Springfield", "Montréal") for p in ARTICLE_PARAGRAPHS],
        )
        .replace('charset="utf-8"', 'charset="iso-8859-1"')
        .encode("iso-8859-1")
    )
    shutil.copy(SEEDS / "004_e447452caba537a9.txt", d / "wire.txt")
    (d / "notes.md").write_text(
        "# Bridge closure explained\n\n"
        + "\n\n".join(f"**{p[:20]}**{p[20:]}" for p in ARTICLE_PARAGRAPHS[:3]),
        encoding="utf-8",
    )
    with gzip.open(d / "copy.txt.gz", "wt", encoding="utf-8") as fh:
        fh.write((SEEDS / "001_499202b887901f4b.txt").read_text(encoding="utf-8"))
    lines = [
        json.dumps(
            {
                "id": "j1",
                "title": "Bridge shut",
                "text": "\n".join(ARTICLE_PARAGRAPHS[:3]),
                "url": "https://example.org/j1",
                "date": "2024-03-12",
                "source": "Example",
            }
        ),
        "{this is not json",
        json.dumps({"id": "j2", "title": "No body"}),
        "",
        json.dumps({"id": "j3", "html": article_html(title="Bridge closed for repairs")}),
    ]
    (d / "feed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = pa.table(
        {
            "id": ["p1", "p2"],
            "title": ["Council shuts bridge", "Weather"],
            "text": ["\n".join(ARTICLE_PARAGRAPHS[1:]), "Sunny."],
            "url": ["https://example.net/p1", None],
            "date": ["2024-03-13", None],
            "source": ["Example Net", None],
        }
    )
    pq.write_table(table, d / "batch.parquet")
    (d / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (d / "empty.txt").write_bytes(b"")
    (d / "garbage.txt").write_bytes(
        bytes([0xC3, 0x28, 0xA0, 0xA1, 0xE2, 0x28, 0xA1, 0xF0, 0x28, 0x8C, 0xBC]) * 40
    )
    (d / "broken.parquet").write_bytes(b"PAR1 definitely not parquet")
    (d / ".hidden.txt").write_text("hidden files are skipped", encoding="utf-8")
    return d
