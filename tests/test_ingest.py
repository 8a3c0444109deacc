from __future__ import annotations

import gzip
from dataclasses import replace
from pathlib import Path

import pytest

from dedup.config import PipelineOptions
from dedup.engines.local import extract, ingest
from dedup.extract import extract_document
from dedup.ingest import decoded, discover_inputs, read_input
from dedup.ingest.decode import DecodeError, decode_text
from dedup.ingest.discover import InputError
from dedup.records import Document, Reject, SourceRecord


def _read(path: Path) -> list[SourceRecord | Reject]:
    """What reading ``path`` gives, pages decoded (as extraction decodes them)."""
    (item,) = discover_inputs([path])
    return list(map(decoded, read_input(item)))


def test_directory_walk_is_sorted_recursive_and_skips_hidden(mixed_dir: Path) -> None:
    files = discover_inputs([mixed_dir])
    ids = [f.doc_id for f in files]
    assert ids == sorted(ids)
    assert "web/bridge.html" in ids
    assert not any(Path(i).name.startswith(".") for i in ids)


def test_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        discover_inputs([tmp_path / "nope"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no input files"):
        discover_inputs([tmp_path / "empty"])


def test_gzip_text_keeps_inner_name_as_doc_id(mixed_dir: Path) -> None:
    (record,) = _read(mixed_dir / "copy.txt.gz")
    assert isinstance(record, SourceRecord)
    assert record.doc_id == "copy.txt"
    assert record.content_type == "text"
    assert "Pakistan" in record.content


def test_gzip_jsonl_and_html_by_content(tmp_path: Path) -> None:
    path = tmp_path / "feed.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write('{"id": "a", "text": "hello world"}\n{"id": "b", "html": "<p>x</p>"}\n')
    records = _read(path)
    assert [(r.doc_id, r.content_type) for r in records] == [("a", "text"), ("b", "html")]
    page = tmp_path / "page.data"
    page.write_text("<!DOCTYPE html><html><body><p>Hi</p></body></html>", encoding="utf-8")
    (record,) = _read(page)
    assert record.content_type == "html"


def test_jsonl_bad_lines_become_rejects_with_line_numbers(mixed_dir: Path) -> None:
    out = _read(mixed_dir / "feed.jsonl")
    records = [r for r in out if isinstance(r, SourceRecord)]
    rejects = [r for r in out if isinstance(r, Reject)]
    assert [r.doc_id for r in records] == ["j1", "j3"]
    assert records[0].published == "2024-03-12" and records[0].site == "Example"
    assert records[1].content_type == "html"
    # A line that is not JSON is found by its line number; a record with an id by its id.
    assert {(r.reason, r.source_path.rsplit("/", 1)[1], r.doc_id) for r in rejects} == {
        ("malformed_json", "feed.jsonl#L2", None),
        ("missing_text", "feed.jsonl", "j2"),
    }


def test_parquet_rows_and_broken_parquet(mixed_dir: Path) -> None:
    records = _read(mixed_dir / "batch.parquet")
    assert [r.doc_id for r in records] == ["p1", "p2"]
    assert records[0].url == "https://example.net/p1"
    (reject,) = _read(mixed_dir / "broken.parquet")
    assert isinstance(reject, Reject) and reject.reason == "malformed_parquet"


@pytest.mark.parametrize(
    ("name", "reason"),
    [("image.png", "binary"), ("empty.txt", "empty"), ("garbage.txt", "undecodable")],
)
def test_bad_files_are_rejected_with_reason(mixed_dir: Path, name: str, reason: str) -> None:
    (reject,) = _read(mixed_dir / name)
    assert isinstance(reject, Reject)
    assert reject.reason == reason
    assert reject.detail


def test_declared_charset_is_honoured(mixed_dir: Path) -> None:
    (record,) = _read(mixed_dir / "web" / "latin1.htm")
    assert "Montréal" in record.content and "Café" in record.content


def test_pages_are_decoded_where_they_are_extracted(tmp_path: Path) -> None:
    """A page file is read as bytes and decoded by extraction: a page that cannot be decoded
    is the same Reject reading it used to give (file-level: no doc_id), and a page in its
    declared charset becomes the same document as from its decoded text."""
    binary = tmp_path / "scan.html"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    latin1 = tmp_path / "latin1.html"
    body = "<p>" + "Le maire de Montréal a visité le Café du Port ce matin avec les élus. " * 3 + "</p>"
    head = '<head><meta charset="iso-8859-1"><title>Montréal</title></head>'
    latin1.write_bytes(f"<html>{head}<body>{body}</body></html>".encode("latin-1"))
    (scan,) = read_input(discover_inputs([binary])[0])
    (page,) = read_input(discover_inputs([latin1])[0])
    assert isinstance(scan, SourceRecord) and isinstance(scan.content, bytes)
    assert isinstance(page, SourceRecord) and isinstance(page.content, bytes)
    rejected = extract_document(scan)
    assert rejected == Reject(str(binary), "binary", rejected.detail) and rejected.detail
    doc = extract_document(page)
    as_text = extract_document(replace(page, content=page.content.decode("latin-1")))
    assert isinstance(doc, Document) and "Montréal" in doc.text and "Café" in doc.text
    assert doc == as_text


def test_decode_text_bom_and_cp1252() -> None:
    assert decode_text("\ufeffhéllo".encode("utf-8")) == "héllo"
    assert "déjà vu" in decode_text(("Il a dit déjà vu, encore une fois, à Paris. " * 5).encode("cp1252"))
    with pytest.raises(DecodeError):
        decode_text(b"\x00\x01\x02binary")


def test_duplicate_ids_are_rejected_not_dropped(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"id": "x", "text": "one two three"}\n', encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"id": "x", "text": "four five six"}\n', encoding="utf-8")
    n_files, records, rejects = ingest([str(tmp_path)])
    assert n_files == 2
    assert [r.source_path.endswith("a.jsonl") for r in records] == [True]
    assert [(r.reason, r.doc_id, r.source_path.endswith("b.jsonl")) for r in rejects] == [
        ("duplicate_id", "x", True)
    ]


def test_every_input_is_accounted_for(mixed_dir: Path) -> None:
    _, records, ingest_rejects = ingest([str(mixed_dir)])
    docs, extract_rejects = extract(records, PipelineOptions(workers=1))
    rejects = ingest_rejects + extract_rejects
    assert len(records) + len(ingest_rejects) == 16
    assert sorted(d.doc_id for d in docs) == sorted(
        ["web/bridge.html", "web/latin1.htm", "wire.txt", "notes.md", "copy.txt", "j1", "j3", "p1"]
    )
    assert sorted(r.reason for r in rejects) == sorted(
        [
            "no_article",
            "malformed_json",
            "missing_text",
            "no_article",
            "binary",
            "empty",
            "undecodable",
            "malformed_parquet",
        ]
    )


def _write_warc(path: Path) -> None:
    from io import BytesIO

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from conftest import article_html

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, body, ctype in (
            ("https://gazette.example.com/a", article_html().encode("utf-8"), "text/html; charset=utf-8"),
            ("https://gazette.example.com/logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png"),
        ):
            headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=BytesIO(body), http_headers=headers)
            )
        writer.write_record(
            writer.create_warc_record(
                "https://gazette.example.com/a", "request", payload=BytesIO(b"GET /a HTTP/1.1\r\n\r\n")
            )
        )


def test_warc_responses_become_records(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    _write_warc(path)
    out = _read(path)
    records = [r for r in out if isinstance(r, SourceRecord)]
    rejects = [r for r in out if isinstance(r, Reject)]
    assert len(records) == 1 and records[0].url == "https://gazette.example.com/a"
    assert records[0].doc_id.startswith("urn:uuid:") and records[0].content_type == "html"
    assert [r.reason for r in rejects] == ["not_html"]


def test_zstd_compressed_text(tmp_path: Path) -> None:
    import zstandard

    path = tmp_path / "story.txt.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"A headline\nSome body text here."))
    (record,) = _read(path)
    assert record.doc_id == "story.txt" and "Some body text" in record.content


def test_corrupt_gzip_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt.gz"
    payload = " ".join(str(i * 7919 % 10007) for i in range(3000)).encode()
    compressed = gzip.compress(payload)
    path.write_bytes(compressed[: len(compressed) // 2])
    (reject,) = _read(path)
    assert isinstance(reject, Reject) and reject.reason == "corrupt_compressed"
