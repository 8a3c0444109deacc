"""Write: Arrow tables for every output, the manifest, and an atomic publish.

Tables are sorted by their keys and carry no timestamps, so the same inputs give
byte-identical files. Everything is written to a staging folder beside ``--out`` and swapped
into place at the end: a crash leaves the previous outputs as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from dedup.canonical import composed_paragraphs
from dedup.processes import fork_pool
from dedup.records import (
    ADDITIONS_SCHEMA,
    CLUSTERS_SCHEMA,
    DOCUMENTS_SCHEMA,
    MERGES_SCHEMA,
    PAIRS_SCHEMA,
    REJECTS_SCHEMA,
    Document,
    Member,
    PairEdge,
    Reject,
    Story,
)
from dedup.store import document_heads

TABLE_FILES = {
    "documents": "documents.parquet",
    "clusters": "clusters.parquet",
    "additions": "additions.parquet",
    "rejects": "rejects.parquet",
    "pairs": "pairs.parquet",
    "merges": "merges.parquet",
}
MANIFEST_FILE = "manifest.json"
K = TypeVar("K")
OWNED_FILES = frozenset([*TABLE_FILES.values(), MANIFEST_FILE])


class OutputError(Exception):
    """The output folder cannot be used."""


# Rows per record batch (and Parquet row group) of the tables that hold texts: they are built
# and written this many rows at a time, never whole.
BATCH_ROWS = 8192


@dataclass(frozen=True)
class TableBatches:
    """A table too large to build whole, written a record batch at a time."""

    schema: pa.Schema
    num_rows: int
    batches: Callable[[], Iterator[pa.RecordBatch]]

    def to_table(self) -> pa.Table:
        return pa.Table.from_batches(list(self.batches()), schema=self.schema)


Table = pa.Table | TableBatches


def as_table(table: Table) -> pa.Table:
    """``table`` built whole in memory."""
    return table.to_table() if isinstance(table, TableBatches) else table


def _table_batches(
    schema: pa.Schema, keys: Sequence[K], row_of: Callable[[K], dict[str, Any]]
) -> TableBatches:
    """The table of one row per key, in the keys' order, built BATCH_ROWS rows at a time."""

    def batches() -> Iterator[pa.RecordBatch]:
        for start in range(0, len(keys), BATCH_ROWS):
            rows = [row_of(key) for key in keys[start : start + BATCH_ROWS]]
            yield pa.RecordBatch.from_pylist(rows, schema=schema)

    return TableBatches(schema, len(keys), batches)


def documents_batches(docs: Sequence[Document], stories: Sequence[Story]) -> TableBatches:
    """One row per member of ``stories`` (in a batch run, every document), by doc_id."""
    heads = document_heads(docs)
    members = sorted(
        (heads[m.doc_index].doc_id, m, story.cluster_id, m.doc_index == story.canonical_index)
        for story in stories
        for m in story.members
    )

    def row_of(key: tuple[str, Member, str, bool]) -> dict[str, Any]:
        _, member, cluster_id, is_canonical = key
        doc = docs[member.doc_index]
        return {
            "doc_id": doc.doc_id,
            "source_path": doc.source_path,
            "url": doc.url,
            "title": doc.title,
            "published": doc.published,
            "site": doc.site,
            "text": doc.text,
            "n_words": doc.n_words,
            "cluster_id": cluster_id,
            "is_canonical": is_canonical,
            "similarity_to_canonical": member.similarity_to_canonical,
            "relation": member.relation,
            "author": doc.author,
            "language": doc.language,
        }

    return _table_batches(DOCUMENTS_SCHEMA, members, row_of)


def documents_table(docs: Sequence[Document], stories: Sequence[Story]) -> pa.Table:
    return documents_batches(docs, stories).to_table()


def story_title(docs: Sequence[Document], story: Story) -> str | None:
    """The canonical's headline, else that of the most similar member that has one."""
    by_similarity = sorted(
        story.members, key=lambda m: (-m.similarity_to_canonical, docs[m.doc_index].doc_id)
    )
    return next((docs[m.doc_index].title for m in by_similarity if docs[m.doc_index].title), None)


def clusters_batches(docs: Sequence[Document], stories: Sequence[Story]) -> TableBatches:
    """One row per story, by cluster_id."""
    heads = document_heads(docs)
    order = sorted(range(len(stories)), key=lambda i: stories[i].cluster_id)

    def row_of(i: int) -> dict[str, Any]:
        story = stories[i]
        canonical = heads[story.canonical_index]
        composed = story.composed_text
        if composed is None:  # one version: its own text is the composed one
            composed = composed_paragraphs(docs[story.canonical_index].text)
        return {
            "cluster_id": story.cluster_id,
            "canonical_doc_id": canonical.doc_id,
            "size": len(story.members),
            "doc_ids": sorted(heads[m.doc_index].doc_id for m in story.members),
            "title": story_title(heads, story),
            "composed_text": composed,
            "canonical_reason": story.canonical_reason,
            "composed_additions": [
                {"text": a.text, "doc_ids": sorted(a.doc_ids)} for a in story.composed_additions
            ],
        }

    return _table_batches(CLUSTERS_SCHEMA, order, row_of)


def clusters_table(docs: Sequence[Document], stories: Sequence[Story]) -> pa.Table:
    return clusters_batches(docs, stories).to_table()


def additions_table(docs: Sequence[Document], stories: Sequence[Story]) -> pa.Table:
    heads = document_heads(docs)  # doc_ids only: no text is read
    rows = []
    for story in stories:
        for member in story.members:
            if not member.additions:
                continue
            doc_id = heads[member.doc_index].doc_id
            for position, addition in enumerate(member.additions):
                rows.append(
                    (
                        story.cluster_id,
                        doc_id,
                        position,
                        {
                            "cluster_id": story.cluster_id,
                            "doc_id": doc_id,
                            "kind": addition.kind,
                            "text": addition.text,
                            "sentence": addition.sentence,
                        },
                    )
                )
    rows.sort(key=lambda r: r[:3])  # reading order within each variant
    return pa.Table.from_pylist([r[3] for r in rows], schema=ADDITIONS_SCHEMA)


def rejects_table(rejects: Sequence[Reject]) -> pa.Table:
    rows = sorted(
        (
            {"source_path": r.source_path, "reason": r.reason, "detail": r.detail, "doc_id": r.doc_id}
            for r in rejects
        ),
        key=lambda r: (r["source_path"], r["doc_id"] or "", r["reason"], r["detail"]),
    )
    return pa.Table.from_pylist(rows, schema=REJECTS_SCHEMA)


def story_index(stories: Sequence[Story]) -> dict[int, str]:
    """Document index -> story id."""
    return {m.doc_index: s.cluster_id for s in stories for m in s.members}


def pair_signals(e: PairEdge) -> dict[str, Any]:
    """The verifier's signals of one pair, as pairs-table columns."""
    return {
        "similarity": e.similarity,
        "body_similarity": e.body_similarity,
        "title_similarity": e.title_similarity,
        "shingle_jaccard": e.shingle_jaccard,
        "days_apart": e.days_apart,
        "views": list(e.views),
    }


def pairs_table(docs: Sequence[Document], edges: Sequence[PairEdge], story_of: Mapping[int, str]) -> pa.Table:
    heads = document_heads(docs)  # doc_ids only: no text is read
    rows = []
    for e in edges:
        a, b = sorted((heads[e.a].doc_id, heads[e.b].doc_id))
        rows.append(
            {"doc_a": a, "doc_b": b, **pair_signals(e), "same_cluster": story_of[e.a] == story_of[e.b]}
        )
    rows.sort(key=lambda r: (r["doc_a"], r["doc_b"]))
    return pa.Table.from_pylist(rows, schema=PAIRS_SCHEMA)


def build_tables(
    docs: Sequence[Document],
    stories: Sequence[Story],
    rejects: Sequence[Reject],
    edges: Sequence[PairEdge],
    story_of: Mapping[int, str] | None = None,
    merges: Sequence[dict[str, Any]] = (),
) -> dict[str, Table]:
    """Every output table. ``story_of`` (document index -> story id) defaults to the stories'
    members; incremental runs pass it for earlier documents outside the touched stories. The
    tables that hold texts (documents, clusters) come as batches, written without ever
    holding every text."""
    return {
        "documents": documents_batches(docs, stories),
        "clusters": clusters_batches(docs, stories),
        "additions": additions_table(docs, stories),
        "rejects": rejects_table(rejects),
        "pairs": pairs_table(docs, edges, story_index(stories) if story_of is None else story_of),
        "merges": pa.Table.from_pylist(sorted(merges, key=lambda m: m["cluster_id"]), schema=MERGES_SCHEMA),
    }


def write_table(table: Table, path: Path) -> None:
    # No timestamps or host data go into the file: identical tables give identical bytes.
    if isinstance(table, TableBatches):
        with (
            pq.ParquetWriter(path, table.schema, compression="zstd", write_statistics=True) as writer,
            ThreadPoolExecutor(max_workers=1) as encoder,
        ):
            # pyarrow encodes and compresses a batch without holding the GIL: the next batch's
            # rows are built meanwhile. Batches are still written one after another, in order.
            written: Future[None] | None = None
            for batch in table.batches():
                if written is not None:
                    written.result()
                written = encoder.submit(writer.write_batch, batch)
            if written is not None:
                written.result()
    else:
        pq.write_table(table, path, compression="zstd", write_statistics=True)
    _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _siblings(out: Path, kind: str) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.{kind}-*"))


def prepare_output(out: Path, what: str = "--out") -> None:
    """Fail early (before any work) if ``out`` cannot receive a folder swap; recover a swap
    that a crash interrupted between its two renames."""
    if out.exists() and not out.is_dir():
        raise OutputError(f"{what} {out} exists and is not a directory")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the parent of {what} {out}: {exc.strerror or exc}") from exc
    if not os.access(parent, os.W_OK | os.X_OK) or (out.exists() and not os.access(out, os.W_OK | os.X_OK)):
        raise OutputError(f"{what} {out} is not writable")
    previous = _siblings(out, "previous")
    if not out.exists() and previous:
        previous[-1].rename(out)
    for leftover in _siblings(out, "staging") + _siblings(out, "previous"):
        shutil.rmtree(leftover, ignore_errors=True)


def staging_folder(target: Path) -> Path:
    """A new empty folder beside ``target`` (same filesystem, so the swap is a rename)."""
    staging = target.parent / f".{target.name}.staging-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    return staging


def swap_in(staging: Path, target: Path, owned: frozenset[str] | None = None) -> None:
    """Replace ``target`` by ``staging`` with two renames. Entries of ``target`` not in ``owned``
    (a ``.gitkeep``, a user's notes) are carried over first; ``None`` owns everything."""
    token = staging.name.rsplit("-", 1)[-1]
    if not target.exists():
        staging.rename(target)
        return
    if owned is not None:
        for entry in target.iterdir():
            if entry.name in owned:
                continue
            if entry.is_dir():
                shutil.copytree(entry, staging / entry.name, symlinks=True)
            else:
                shutil.copy2(entry, staging / entry.name, follow_symlinks=False)
    previous = target.parent / f".{target.name}.previous-{token}"
    target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)


# Set for the process that writes a table aside (write_outputs) before it forks: read there.
_FORKED_TABLE: Table | None = None


def _write_forked_table(path: Path) -> None:
    assert _FORKED_TABLE is not None
    write_table(_FORKED_TABLE, path)


def write_outputs(
    folder: Path, tables: Mapping[str, Table], manifest: dict[str, Any], workers: int = 1
) -> None:
    """Every table, then the manifest, into ``folder`` (a staging folder). With ``workers`` > 1
    and two tables built batch by batch (the documents and the clusters, which hold every
    text), the first is written by a forked process while this one writes the others:
    building their rows is Python work, and the second core was otherwise idle."""
    global _FORKED_TABLE
    by_batches = [name for name, table in tables.items() if isinstance(table, TableBatches)]
    aside = by_batches[0] if workers > 1 and len(by_batches) > 1 else None
    with ExitStack() as stack:
        written_aside: Future[None] | None = None
        if aside is not None:
            _FORKED_TABLE = tables[aside]
            stack.callback(_clear_forked_table)
            written_aside = stack.enter_context(fork_pool(1)).submit(
                _write_forked_table, folder / TABLE_FILES[aside]
            )
        for name, table in tables.items():
            if name != aside:
                write_table(table, folder / TABLE_FILES[name])
        if written_aside is not None:
            written_aside.result()
    manifest_path = folder / MANIFEST_FILE
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _fsync(manifest_path)


def _clear_forked_table() -> None:
    global _FORKED_TABLE
    _FORKED_TABLE = None


def publish(out: Path, tables: Mapping[str, Table], manifest: dict[str, Any], workers: int = 1) -> None:
    """Write the outputs into a staging folder (``workers``: see ``write_outputs``), then swap it
    in for ``out``."""
    staging = staging_folder(out)
    try:
        write_outputs(staging, tables, manifest, workers)
        swap_in(staging, out, OWNED_FILES)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
