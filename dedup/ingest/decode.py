"""Bytes to text: compression, binary detection, character encodings. Never raises on bad
bytes; callers get a ``DecodeError`` with a reason they can put in the rejects table."""

from __future__ import annotations

import codecs
import gzip
import io
import zlib

import charset_normalizer
import regex as re
import zstandard

COMPRESSED_SUFFIXES = (".gz", ".zst")
_BINARY_MAGIC = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"%PDF",
    b"PK\x03\x04",
    b"\x7fELF",
    b"BZh",
    b"\xfd7zXZ",
    b"Rar!",
    b"OggS",
    b"ID3",
    b"RIFF",
    b"\x00\x00\x01\x00",
    b"wOFF",
    b"wOF2",
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-:.]+)""", re.I)
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# What corrupt or truncated compressed bytes raise, from gzip, zlib or zstandard.
DECOMPRESS_ERRORS = (OSError, EOFError, zlib.error, ValueError, zstandard.ZstdError)


class DecodeError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def strip_compression(name: str) -> str:
    lower = name.lower()
    for suffix in COMPRESSED_SUFFIXES:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def compression_of(head: bytes) -> str | None:
    """``gzip`` or ``zstd``, recognised by the magic bytes ``head`` starts with (names can
    lie); None for bytes that are not compressed."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == _ZSTD_MAGIC:
        return "zstd"
    return None


def decompress(data: bytes, name: str) -> bytes:
    """Undo gzip/zstd compression (see ``compression_of``)."""
    compression = compression_of(data)
    try:
        if compression == "gzip":
            return gzip.decompress(data)
        if compression == "zstd":
            return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    except DECOMPRESS_ERRORS as exc:
        raise DecodeError("corrupt_compressed", f"{name}: cannot decompress: {exc}") from exc
    if name.lower().endswith(COMPRESSED_SUFFIXES):
        raise DecodeError("corrupt_compressed", f"{name}: named as compressed but is not")
    return data


# Control characters other than tab, newline, form feed and carriage return.
_CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


def looks_binary(data: bytes) -> bool:
    head = data[:8192]
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        return True
    controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
    return bool(head) and controls / len(head) > 0.05


def _declared_charset(head: bytes) -> str | None:
    match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
    if not match:
        return None
    name = match.group(1).decode("ascii", "ignore").lower()
    # Browsers read these as Windows-1252 (WHATWG encoding standard), and so do we.
    return "cp1252" if name in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii") else name


def _mostly_letters(text: str) -> bool:
    visible = [ch for ch in text if not ch.isspace()]
    return bool(visible) and sum(ch.isalpha() for ch in visible) >= 0.5 * len(visible)


def decode_text(data: bytes, *, html: bool = False) -> str:
    """Decode with, in order: a byte-order mark, strict UTF-8, the charset an HTML page
    declares, Windows-1252 (the commonest legacy encoding of news text, which statistical
    detectors often mistake for Baltic or Central European code pages on short texts), then
    statistical detection. Raises DecodeError when nothing gives readable text."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if looks_binary(data):
        raise DecodeError("binary", "binary content (not text, HTML or a known article format)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if html:
        declared = _declared_charset(data[:4096])
        if declared:
            try:
                text = data.decode(declared, errors="replace")
                # A few broken bytes in a page otherwise in its declared charset: keep it, as
                # browsers do; many of them mean the declaration is wrong.
                if text.count("\ufffd") <= max(3, len(text) // 2000):
                    return text
            except LookupError:
                pass
    # Markup and scripts are not letters, so for HTML the readability test is left to extraction.
    try:
        text = data.decode("cp1252")
        if html or _mostly_letters(text):
            return text
    except UnicodeDecodeError:
        pass
    best = charset_normalizer.from_bytes(data).best()
    if best is not None and (html or (best.coherence > 0 and _mostly_letters(str(best)))):
        return str(best)
    if html:
        return data.decode("utf-8", errors="replace")
    raise DecodeError("undecodable", "bytes match no character encoding that gives readable text")
