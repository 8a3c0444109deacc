"""Read one input file into article records, whatever its format.

Formats are recognised by extension (after removing .gz/.zst), then by content:
HTML pages, plain text/Markdown, JSON Lines (or a JSON array/object) and Parquet with the
columns ``id, title, text | html, url, date, source``. Every record that cannot be read
becomes a ``Reject`` so that inputs = documents + rejects.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from dedup.ingest.decode import (
    COMPRESSED_SUFFIXES,
    DECOMPRESS_ERRORS,
    DecodeError,
    compression_of,
    decode_text,
    decompress,
    looks_binary,
    strip_compression,
)
from dedup.ingest.discover import InputFile
from dedup.ingest.warc import read_warc
from dedup.records import Reject, SourceRecord

HTML_SUFFIXES = (".html", ".htm", ".xhtml")
TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".text")
JSON_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
WARC_SUFFIXES = (".warc", ".arc")
RECORD_COLUMNS = ("id", "title", "text", "html", "url", "date", "published", "source", "site")

Output = SourceRecord | Reject


def format_by_name(name: str) -> str | None:
    """``html``, ``text``, ``json`` or ``parquet`` by extension (compression removed), or None."""
    lower = strip_compression(name).lower()
    for fmt, suffixes in (
        ("html", HTML_SUFFIXES),
        ("text", TEXT_SUFFIXES),
        ("json", JSON_SUFFIXES),
        ("parquet", PARQUET_SUFFIXES),
    ):
        if lower.endswith(suffixes):
            return fmt
    return None


def detect_format(name: str, head: bytes) -> str:
    """``html``, ``text``, ``json`` or ``parquet``; by extension first, then by content."""
    by_name = format_by_name(name)
    if by_name is not None:
        return by_name
    if head[:4] == b"PAR1":
        return "parquet"
    if head.startswith((b"WARC/1.", b"WARC/0.")):
        return "warc"
    start = head.lstrip()[:512].lower()
    if start.startswith((b"{", b"[")):
        return "json"
    if start.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<body" in head[:4096].lower():
        return "html"
    return "text"


def read_input(item: InputFile) -> Iterator[Output]:
    """Yield the records of one input file; never raises for bad content.

    Corpus files (JSON Lines, Parquet, WARC) are streamed, a record at a time, so a file of
    millions of articles never sits in memory whole; anything else is read whole. A page file
    gives its bytes: extraction decodes them (``decoded``), on the workers.
    """
    if strip_compression(item.source_path).lower().endswith(WARC_SUFFIXES):
        yield from read_warc(item)  # streamed: WARC files are often gigabytes
        return
    streamed = _streamed_format(item)
    if streamed == "parquet":
        yield from _read_parquet(item, item.source_path, strip_compression(item.doc_id))
        return
    if streamed == "json":
        yield from _read_json_lines(item, strip_compression(item.doc_id))
        return
    try:
        raw = item.path.read_bytes()
    except OSError as exc:
        yield Reject(item.source_path, "unreadable", f"cannot read file: {exc.strerror or exc}")
        return
    try:
        data = decompress(raw, item.source_path)
    except DecodeError as exc:
        yield Reject(item.source_path, exc.reason, exc.detail)
        return
    if not data.strip():
        yield Reject(item.source_path, "empty", "file is empty" if not raw else "file holds only whitespace")
        return
    doc_id = strip_compression(item.doc_id)
    fmt = detect_format(item.source_path, data[:8192])
    if fmt == "parquet":
        yield from _read_parquet(item, io.BytesIO(data), doc_id)
        return
    if fmt == "warc":
        yield from read_warc(item)
        return
    if fmt == "html":  # decoded by extraction (``decoded``), on the workers
        yield SourceRecord(source_path=item.source_path, doc_id=doc_id, content=data, content_type=fmt)
        return
    try:
        text = decode_text(data)
    except DecodeError as exc:
        yield Reject(item.source_path, exc.reason, exc.detail)
        return
    if fmt == "json":
        yield from _read_json(item, text, doc_id)
    else:
        yield SourceRecord(source_path=item.source_path, doc_id=doc_id, content=text, content_type=fmt)


def decoded(record: Output) -> Output:
    """``record`` with its content as text: a page ``read_input`` left as bytes is decoded
    (``decode_text``); a Reject, as reading the file would have given, when it cannot be. A
    Reject or a record already in text is returned as it is, so ``read_input``'s outputs can
    be mapped through it."""
    if isinstance(record, Reject) or isinstance(record.content, str):
        return record
    try:
        text = decode_text(record.content, html=record.content_type == "html")
    except DecodeError as exc:
        return Reject(record.source_path, exc.reason, exc.detail)
    return replace(record, content=text)


def _str_or_none(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def record_from_mapping(row: dict[str, Any], source_path: str, fallback_id: str) -> Output:
    """A JSON object or Parquet row -> SourceRecord, or a Reject saying what is missing.

    ``source_path`` is the file: a record is found again by its doc_id, and line numbers
    would make outputs depend on the order of lines."""
    doc_id = _str_or_none(row.get("id")) or fallback_id
    text, html = row.get("text"), row.get("html")
    if isinstance(text, str) and text.strip():
        content, content_type = text, "text"
    elif isinstance(html, str) and html.strip():
        content, content_type = html, "html"
    else:
        return Reject(source_path, "missing_text", "no non-empty 'text' or 'html' field", doc_id)
    return SourceRecord(
        source_path=source_path,
        doc_id=doc_id,
        content=content,
        content_type=content_type,
        title=_str_or_none(row.get("title")),
        url=_str_or_none(row.get("url")),
        published=_str_or_none(row.get("date") or row.get("published")),
        site=_str_or_none(row.get("source") or row.get("site")),
    )


def _read_json(item: InputFile, text: str, doc_id: str) -> Iterator[Output]:
    stripped = text.lstrip()
    if stripped.startswith("["):  # a JSON array of article objects
        try:
            rows = json.loads(stripped)
        except json.JSONDecodeError as exc:
            yield Reject(item.source_path, "malformed_json", f"invalid JSON array: {exc}")
            return
        for n, row in enumerate(rows, 1):
            where = f"{item.source_path}#row{n}"
            if isinstance(row, dict):
                yield record_from_mapping(row, item.source_path, f"{doc_id}#row{n}")
            else:
                yield Reject(where, "malformed_json", f"element {n} is a {type(row).__name__}, not an object")
        return
    for lineno, line in enumerate(text.split("\n"), 1):
        yield from _json_line(item, line, lineno, doc_id)


def _json_line(item: InputFile, line: str, lineno: int, doc_id: str) -> Iterator[Output]:
    """The record (or reject) of one line of a JSON Lines file; nothing for a blank line."""
    if not line.strip():
        return
    where = f"{item.source_path}#L{lineno}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        yield Reject(where, "malformed_json", f"line {lineno}: {exc.msg} (column {exc.colno})")
        return
    if not isinstance(row, dict):
        yield Reject(where, "malformed_json", f"line {lineno}: a {type(row).__name__}, not an object")
        return
    yield record_from_mapping(row, item.source_path, f"{doc_id}#L{lineno}")


# Bytes read at a time when checking a whole file before streaming it.
_CHECK_BYTES = 1 << 20


def _open_decompressed(item: InputFile) -> tuple[IO[bytes], str | None]:
    """``item``'s bytes as a stream, gzip or zstd undone, and which of them it was."""
    with open(item.path, "rb") as probe:
        compression = compression_of(probe.read(4))
    if compression == "gzip":
        return gzip.open(item.path, "rb"), compression
    if compression == "zstd":
        # Buffered, for reading line by line.
        reader = zstandard.ZstdDecompressor().stream_reader(open(item.path, "rb"), closefd=True)  # noqa: SIM115
        return io.BufferedReader(reader, buffer_size=_CHECK_BYTES), compression
    return open(item.path, "rb"), None


def _streamed_format(item: InputFile) -> str | None:
    """``parquet`` or ``json`` when ``item`` can be streamed with the same records (and rejects)
    as reading it whole: an uncompressed Parquet file, or JSON Lines that decompress and
    decode as UTF-8 to the end. JSON arrays, other encodings, empty, binary and corrupt files
    (and files named as compressed that are not) take the whole-file path, which says what
    is wrong with them."""
    if format_by_name(item.source_path) in ("html", "text"):
        return None  # named as a page or a text: read whole, whatever it holds
    try:
        stream, compression = _open_decompressed(item)
        with stream:
            if compression is None and item.source_path.lower().endswith(COMPRESSED_SUFFIXES):
                return None
            head = stream.read(8192)
            fmt = detect_format(item.source_path, head)
            if fmt == "parquet":
                return fmt if compression is None and head[:4] == b"PAR1" else None
            array = head.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"[")
            if fmt != "json" or array or looks_binary(head):
                return None
            # One pass to check every byte decodes, so no record is read before a file would
            # turn out to need the whole-file path.
            decoder = codecs.getincrementaldecoder("utf-8")()
            has_content = bool(decoder.decode(head).strip())
            while chunk := stream.read(_CHECK_BYTES):
                has_content = bool(decoder.decode(chunk).strip()) or has_content
            decoder.decode(b"", final=True)
            return fmt if has_content else None
    except DECOMPRESS_ERRORS:  # UnicodeDecodeError included: it is a ValueError
        return None


def _read_json_lines(item: InputFile, doc_id: str) -> Iterator[Output]:
    """A JSON Lines file that ``_streamed_format`` checked, a line at a time."""
    stream, _ = _open_decompressed(item)
    with stream:
        for lineno, raw in enumerate(stream, 1):
            line = raw.decode("utf-8")
            yield from _json_line(item, line.removeprefix("\ufeff") if lineno == 1 else line, lineno, doc_id)


def _read_parquet(item: InputFile, source: str | IO[bytes], doc_id: str) -> Iterator[Output]:
    try:
        parquet = pq.ParquetFile(source)
        columns = [c for c in RECORD_COLUMNS if c in parquet.schema_arrow.names]
        if "text" not in columns and "html" not in columns:
            yield Reject(
                item.source_path, "missing_text", "Parquet file has neither a 'text' nor an 'html' column"
            )
            return
        row_number = 0
        for batch in parquet.iter_batches(batch_size=2048, columns=columns):
            for row in batch.to_pylist():
                row_number += 1
                yield record_from_mapping(row, item.source_path, f"{doc_id}#row{row_number}")
    except (pa.ArrowException, OSError) as exc:
        yield Reject(item.source_path, "malformed_parquet", f"cannot read Parquet: {exc}")
