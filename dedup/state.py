"""The state folder of incremental runs: what earlier batches left for later ones.

A batch is matched against every earlier story without recomputing history: the state keeps
each document (text and metadata, so touched stories can be re-canonicalised), its story, its
LSH signatures as they were when it was indexed (the MinHash scheme and parameters, and the
rule that picks content words, are recorded beside them, so a later run refuses signatures it
cannot compare), the verified
edges between earlier documents, the corpus document frequencies behind IDF, and the log of
story merges. Everything is Parquet plus one JSON file, written to a staging folder and
swapped in like the outputs.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dedup.languages import CONTENT_WORD_RULE
from dedup.records import DOCUMENTS_SCHEMA, MERGES_SCHEMA, SCHEMA_VERSION, Document

STATE_FILE = "state.json"
STATE_DOCUMENTS = "documents.parquet"
STATE_SIGNATURES = "signatures.parquet"
STATE_EDGES = "edges.parquet"
STATE_TERMS = "terms.parquet"
STATE_MERGES = "merges.parquet"

# A state document is an output document's record (same fields, same types) plus its story.
_DOCUMENT_FIELDS = (
    "doc_id",
    "source_path",
    "url",
    "title",
    "published",
    "site",
    "text",
    "author",
    "language",
)
_DOCUMENT_SCHEMA = pa.schema(
    [*(DOCUMENTS_SCHEMA.field(name) for name in _DOCUMENT_FIELDS), DOCUMENTS_SCHEMA.field("cluster_id")]
)
_EDGE_SCHEMA = pa.schema(
    [pa.field("doc_a", pa.string(), nullable=False), pa.field("doc_b", pa.string(), nullable=False)]
)
_TERM_SCHEMA = pa.schema(
    [pa.field("term", pa.string(), nullable=False), pa.field("df", pa.int64(), nullable=False)]
)


class StateError(Exception):
    """The state folder cannot be used with this run (other MinHash parameters, newer schema)."""


@dataclass
class State:
    """Everything earlier batches left. Documents are sorted by doc_id."""

    documents: list[Document] = field(default_factory=list)
    cluster_ids: list[str] = field(default_factory=list)
    signatures: dict[str, np.ndarray] = field(default_factory=dict)  # view name -> (n, num_perm)
    edges: list[tuple[str, str]] = field(default_factory=list)  # verified pairs among documents
    document_frequencies: Counter[str] = field(default_factory=Counter)
    merges: list[dict[str, Any]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_documents(self) -> int:
        return len(self.documents)


def compatibility(minhash: dict[str, Any], views: list[dict[str, Any]]) -> dict[str, Any]:
    """What must be equal for saved signatures to be comparable with new ones."""
    return {
        "schema_version": SCHEMA_VERSION,
        "minhash": minhash,
        "views": views,
        "content_words": CONTENT_WORD_RULE,
    }


def load_state(folder: Path, expected: dict[str, Any]) -> State:
    """The state in ``folder`` (an empty State when the folder holds none yet)."""
    meta_path = folder / STATE_FILE
    if not meta_path.exists():
        return State(meta=dict(expected))
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    for key, value in expected.items():
        if meta.get(key) != value:
            raise StateError(
                f"state in {folder} was built with {key}={meta.get(key)!r}, this run uses {value!r}; "
                "signatures are not comparable (start a new state folder or run with the old settings)"
            )
    docs_table = pq.read_table(folder / STATE_DOCUMENTS)
    rows = docs_table.to_pylist()
    documents = [Document(**{name: r[name] for name in _DOCUMENT_FIELDS}) for r in rows]
    signatures_table = pq.read_table(folder / STATE_SIGNATURES)
    signatures = {}
    for view in signatures_table.column_names:
        if view == "doc_id":
            continue
        column = signatures_table[view].combine_chunks()
        width = column.type.list_size
        signatures[view] = column.flatten().to_numpy().reshape(-1, width)
    edges_table = pq.read_table(folder / STATE_EDGES)
    terms_table = pq.read_table(folder / STATE_TERMS)
    return State(
        documents=documents,
        cluster_ids=[r["cluster_id"] for r in rows],
        signatures=signatures,
        edges=list(zip(edges_table["doc_a"].to_pylist(), edges_table["doc_b"].to_pylist(), strict=True)),
        document_frequencies=Counter(
            dict(zip(terms_table["term"].to_pylist(), terms_table["df"].to_pylist(), strict=True))
        ),
        merges=pq.read_table(folder / STATE_MERGES).to_pylist(),
        meta=meta,
    )


def write_state(state: State, folder: Path) -> None:
    """Write every state table into ``folder`` (a staging folder: the caller swaps it in)."""
    order = sorted(range(state.n_documents), key=lambda i: state.documents[i].doc_id)
    docs = [state.documents[i] for i in order]
    pq.write_table(
        pa.Table.from_pylist(
            [
                {**{name: getattr(d, name) for name in _DOCUMENT_FIELDS}, "cluster_id": state.cluster_ids[i]}
                for d, i in zip(docs, order, strict=True)
            ],
            schema=_DOCUMENT_SCHEMA,
        ),
        folder / STATE_DOCUMENTS,
        compression="zstd",
    )
    columns: dict[str, pa.Array] = {"doc_id": pa.array([d.doc_id for d in docs], pa.string())}
    for view, matrix in sorted(state.signatures.items()):
        ordered = np.ascontiguousarray(matrix[order])
        columns[view] = pa.FixedSizeListArray.from_arrays(pa.array(ordered.ravel()), ordered.shape[1])
    pq.write_table(pa.table(columns), folder / STATE_SIGNATURES, compression="zstd")
    edges = sorted(tuple(sorted(e)) for e in state.edges)
    pq.write_table(
        pa.table({"doc_a": [a for a, _ in edges], "doc_b": [b for _, b in edges]}, schema=_EDGE_SCHEMA),
        folder / STATE_EDGES,
        compression="zstd",
    )
    terms = sorted(state.document_frequencies.items())
    pq.write_table(
        pa.table({"term": [t for t, _ in terms], "df": [c for _, c in terms]}, schema=_TERM_SCHEMA),
        folder / STATE_TERMS,
        compression="zstd",
    )
    pq.write_table(pa.Table.from_pylist(state.merges, schema=MERGES_SCHEMA), folder / STATE_MERGES)
    meta = {**state.meta, "n_documents": state.n_documents}
    (folder / STATE_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")
