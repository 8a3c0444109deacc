"""Record types that flow between stages, and the Arrow schemas of every output table.

The output contract is versioned by ``SCHEMA_VERSION``: later versions may add columns,
never rename or remove them. ``dedup schema`` prints these schemas.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa

SCHEMA_VERSION = 1

ContentType = Literal["html", "text"]


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """One article as read from an input, before extraction."""

    source_path: str
    doc_id: str
    # bytes: a web page as read from its file, decoded where it is extracted (ingest.decoded),
    # so that decoding runs on every core and the page is sent to a worker as its raw bytes.
    content: str | bytes
    content_type: ContentType
    title: str | None = None
    url: str | None = None
    published: str | None = None
    site: str | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """An input (file or record) that could not become a document, and why."""

    source_path: str
    reason: str
    detail: str
    doc_id: str | None = None  # known once a record's id has been read


@dataclass(slots=True)
class Document:
    """A clean article: body text plus metadata. The unit every later stage works on."""

    doc_id: str
    source_path: str
    text: str
    title: str | None = None
    url: str | None = None
    published: str | None = None
    site: str | None = None
    author: str | None = None
    language: str | None = None
    # (the text counted, its word count): extraction counts words in its worker (min_words),
    # and the count travels with the document instead of being counted again for the outputs.
    _word_count: tuple[str, int] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_words(self) -> int:
        """Whitespace word count of ``text``."""
        if self._word_count is None or self._word_count[0] is not self.text:
            self._word_count = (self.text, len(self.text.split()))
        return self._word_count[1]

    def set_word_count(self, n_words: int) -> None:
        """Record ``len(self.text.split())``, counted where the text was made."""
        self._word_count = (self.text, n_words)

    def with_text(self, text: str, n_words: int | None = None) -> Document:
        """This document with ``text`` instead; ``n_words``: that text's word count, if known."""
        doc = dataclasses.replace(self, text=text)
        if n_words is not None:
            doc.set_word_count(n_words)
        return doc


@dataclass(frozen=True, slots=True)
class PairEdge:
    """A verified candidate pair (indices into the batch's document list)."""

    a: int
    b: int
    similarity: float
    body_similarity: float
    title_similarity: float
    shingle_jaccard: float
    days_apart: int | None
    views: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Addition:
    """Something a variant states that its story's canonical version does not."""

    kind: str  # "sentence", "number", "date", "entity", "quote"
    text: str
    sentence: str


@dataclass(slots=True)
class Member:
    doc_index: int
    similarity_to_canonical: float
    relation: str  # "canonical", "exact", "near_copy", "rewrite"
    additions: list[Addition] = field(default_factory=list)


@dataclass(slots=True)
class ComposedAddition:
    text: str
    doc_ids: list[str]


@dataclass(slots=True)
class Story:
    """One story group with its canonical version and what each member adds."""

    cluster_id: str
    canonical_index: int
    canonical_reason: str
    members: list[Member]
    # None for a story of one version: its composed text is that version's own, read from
    # the documents when the clusters table is written rather than held for every story.
    composed_text: str | None
    composed_additions: list[ComposedAddition]


DOCUMENTS_SCHEMA = pa.schema(
    [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("title", pa.string()),
        pa.field("published", pa.string()),
        pa.field("site", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("n_words", pa.int32(), nullable=False),
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("is_canonical", pa.bool_(), nullable=False),
        pa.field("similarity_to_canonical", pa.float32(), nullable=False),
        pa.field("relation", pa.string(), nullable=False),
        pa.field("author", pa.string()),
        pa.field("language", pa.string()),
    ],
    metadata={"newsdedup.table": "documents", "newsdedup.schema_version": str(SCHEMA_VERSION)},
)

CLUSTERS_SCHEMA = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("canonical_doc_id", pa.string(), nullable=False),
        pa.field("size", pa.int32(), nullable=False),
        pa.field("doc_ids", pa.list_(pa.string()), nullable=False),
        pa.field("title", pa.string()),
        pa.field("composed_text", pa.string(), nullable=False),
        pa.field("canonical_reason", pa.string(), nullable=False),
        pa.field(
            "composed_additions",
            pa.list_(pa.struct([pa.field("text", pa.string()), pa.field("doc_ids", pa.list_(pa.string()))])),
            nullable=False,
        ),
    ],
    metadata={"newsdedup.table": "clusters", "newsdedup.schema_version": str(SCHEMA_VERSION)},
)

ADDITIONS_SCHEMA = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("sentence", pa.string(), nullable=False),
    ],
    metadata={"newsdedup.table": "additions", "newsdedup.schema_version": str(SCHEMA_VERSION)},
)

REJECTS_SCHEMA = pa.schema(
    [
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("doc_id", pa.string()),
    ],
    metadata={"newsdedup.table": "rejects", "newsdedup.schema_version": str(SCHEMA_VERSION)},
)

PAIRS_SCHEMA = pa.schema(
    [
        pa.field("doc_a", pa.string(), nullable=False),
        pa.field("doc_b", pa.string(), nullable=False),
        pa.field("similarity", pa.float32(), nullable=False),
        pa.field("body_similarity", pa.float32(), nullable=False),
        pa.field("title_similarity", pa.float32(), nullable=False),
        pa.field("shingle_jaccard", pa.float32(), nullable=False),
        pa.field("days_apart", pa.int32()),
        pa.field("views", pa.list_(pa.string()), nullable=False),
        pa.field("same_cluster", pa.bool_(), nullable=False),
    ],
    metadata={"newsdedup.table": "pairs", "newsdedup.schema_version": str(SCHEMA_VERSION)},
)

MERGES_SCHEMA = pa.schema(
    [
        pa.field("cluster_id", pa.string(), nullable=False),
        pa.field("merged_into", pa.string(), nullable=False),
        pa.field("run_key", pa.string(), nullable=False),
        pa.field("bridging_doc_ids", pa.list_(pa.string()), nullable=False),
    ],
    metadata={"newsdedup.table": "merges", "newsdedup.schema_version": str(SCHEMA_VERSION)},
)

OUTPUT_SCHEMAS: dict[str, pa.Schema] = {
    "documents": DOCUMENTS_SCHEMA,
    "clusters": CLUSTERS_SCHEMA,
    "additions": ADDITIONS_SCHEMA,
    "rejects": REJECTS_SCHEMA,
    "pairs": PAIRS_SCHEMA,
    "merges": MERGES_SCHEMA,
}

# One line per column, for `dedup schema` and the README.
COLUMN_DOCS: dict[str, dict[str, str]] = {
    "documents": {
        "doc_id": "record id (JSONL/Parquet `id`) or the file's path relative to its INPUT directory",
        "source_path": "the input file the document came from",
        "url": "canonical URL from the page or record, if known",
        "title": "headline",
        "published": "publication date, ISO 8601, if known",
        "site": "site or outlet name, if known",
        "text": "clean article body (boilerplate, comments, bylines removed)",
        "n_words": "whitespace word count of `text`",
        "cluster_id": "story id; every document has one, singletons too",
        "is_canonical": "true for the story's representative version",
        "similarity_to_canonical": "verifier similarity to the canonical (1.0 for the canonical itself)",
        "relation": "canonical | exact | near_copy | rewrite (relation to the canonical)",
        "author": "author(s), if known",
        "language": "ISO 639-1 language the page or record declares, if any (not read from the text)",
    },
    "clusters": {
        "cluster_id": "story id",
        "canonical_doc_id": "doc_id of the representative version",
        "size": "number of documents in the story",
        "doc_ids": "all member doc_ids, sorted",
        "title": "the canonical's title (else the most similar member's)",
        "composed_text": "canonical text plus every variant's unique sentences, placed in reading order",
        "canonical_reason": "why this version was chosen (policy and scores)",
        "composed_additions": (
            "sentences added to the canonical in composed_text, with the doc_ids carrying each"
        ),
    },
    "additions": {
        "cluster_id": "story id",
        "doc_id": "the variant that carries the addition",
        "kind": "sentence | number | date | entity | quote",
        "text": "the added sentence, or the added fact",
        "sentence": "the variant sentence that carries it",
    },
    "rejects": {
        "source_path": "input file (with `#L<line>` or `#row<n>` for a record inside a file)",
        "reason": "machine-readable reason (binary, empty, undecodable, malformed_json, ...)",
        "detail": "human-readable explanation",
        "doc_id": "the record's doc_id, when it got far enough to have one",
    },
    "merges": {
        "cluster_id": "an earlier story that a new article joined to another (incremental runs)",
        "merged_into": "the story id it continues under",
        "run_key": "the run that merged them",
        "bridging_doc_ids": "the new documents that bridged the two stories",
    },
    "pairs": {
        "doc_a": "first doc_id of a verified candidate pair (doc_a < doc_b)",
        "doc_b": "second doc_id",
        "similarity": "combined verifier similarity",
        "body_similarity": "IDF-weighted cosine of the bodies",
        "title_similarity": "IDF-weighted cosine of the titles",
        "shingle_jaccard": "exact Jaccard of the two word 5-gram sets (1.0 = same wording)",
        "days_apart": "days between the publication dates, if both are known",
        "views": "LSH views that proposed the pair",
        "same_cluster": "whether the clustering put both in one story",
    },
}
