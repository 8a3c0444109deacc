"""WARC archives (``.warc``, ``.warc.gz``): each HTTP response with an HTML body is an article.

Streamed with warcio, record by record. Requests, metadata and other non-response records are
crawl bookkeeping, not articles, and are not counted as inputs; a response whose body is not
HTML (an image, a PDF) is a reject, so every crawled page is accounted for.
"""

from __future__ import annotations

from collections.abc import Iterator

from dedup.ingest.decode import DecodeError, decode_text
from dedup.ingest.discover import InputFile
from dedup.records import Reject, SourceRecord

_HTML_TYPES = ("text/html", "application/xhtml+xml")


def read_warc(item: InputFile) -> Iterator[SourceRecord | Reject]:
    # Imported here: warcio (and fsspec, asyncio behind it) took 0.09 s of every run's start.
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    n = 0
    try:
        with open(item.path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type != "response":
                    continue
                n += 1
                record_id = record.rec_headers.get_header("WARC-Record-ID") or f"{item.doc_id}#record{n}"
                url = record.rec_headers.get_header("WARC-Target-URI")
                where = f"{item.source_path}#record{n}"
                content_type = (
                    (record.http_headers.get_header("Content-Type") or "") if record.http_headers else ""
                )
                body = record.content_stream().read()
                if content_type and not content_type.lower().startswith(_HTML_TYPES):
                    yield Reject(
                        where, "not_html", f"{url}: response is {content_type.split(';')[0]}, not HTML"
                    )
                    continue
                try:
                    html = decode_text(body, html=True)
                except DecodeError as exc:
                    yield Reject(where, exc.reason, f"{url}: {exc.detail}")
                    continue
                yield SourceRecord(
                    source_path=item.source_path,
                    doc_id=record_id.strip("<>"),
                    content=html,
                    content_type="html",
                    url=url,
                )
    except (ArchiveLoadFailed, OSError, ValueError) as exc:
        yield Reject(item.source_path, "malformed_warc", f"cannot read WARC after {n} responses: {exc}")
