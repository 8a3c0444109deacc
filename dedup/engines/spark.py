"""The Spark engine: the local engine's stages on a cluster, for corpora beyond one machine.

It only orchestrates, like the local engine, and calls the same stage functions:

- per-document work (read, extract, tokens, keyword sets, MinHash signatures) runs inside
  Arrow UDFs (``mapInArrow``) on the executors;
- corpus document frequencies are a Spark aggregate, turned into ``TermWeights`` on the
  driver and broadcast;
- banding, candidate pairs and connected components (large-star/small-star) are DataFrame
  operations, so no step ever holds the corpus in one place;
- verification scores a batch of candidate pairs with a ``Verifier`` over the batch's
  documents (a pair's score depends only on its two documents and the global IDF);
- clustering and canonicalisation run the local engine's code over groups of whole
  connected components (cogrouped ``applyInArrow``), each group emitting its slice of the
  documents, clusters, additions and pairs tables.

Documents are ordered by ``doc_id`` inside every group, as the local engine orders the
whole batch, so both engines give the same stories, canonicals and additions.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import xxhash
from pyspark import StorageLevel
from pyspark.broadcast import Broadcast
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from dedup.cluster import cluster_stories
from dedup.config import PipelineOptions
from dedup.engines.local import DocumentFeatures, Grouping, StageTimer, canonicalise
from dedup.extract import extract_document
from dedup.fingerprint import minhash_signatures
from dedup.ingest import InputFile, discover_inputs, read_input
from dedup.ingest.discover import InputError
from dedup.manifest import RunCounts, build_manifest
from dedup.output import (
    MANIFEST_FILE,
    TABLE_FILES,
    additions_table,
    clusters_table,
    documents_table,
    pair_signals,
    pairs_table,
    rejects_table,
    story_index,
)
from dedup.records import OUTPUT_SCHEMAS, Document, PairEdge, Reject, SourceRecord
from dedup.verify import Verifier
from dedup.weights import TermWeights

DEFAULT_MASTER = "local[*]"
# Documents per clustering group: whole components are hashed into groups of about this many
# documents, so millions of singletons do not cost one Python call each.
DOCS_PER_GROUP = 2000

_READ = pa.schema(
    [
        ("source_path", pa.string()),
        ("doc_id", pa.string()),
        ("content", pa.string()),
        ("content_type", pa.string()),
        ("title", pa.string()),
        ("url", pa.string()),
        ("published", pa.string()),
        ("site", pa.string()),
        ("file_doc_id", pa.string()),
        ("file_path", pa.string()),
        ("record_no", pa.int64()),
        ("reject_reason", pa.string()),
        ("reject_detail", pa.string()),
    ]
)
_DOCUMENT_FIELDS = (
    "doc_id",
    "source_path",
    "text",
    "title",
    "url",
    "published",
    "site",
    "author",
    "language",
)
_EXTRACTED = pa.schema(
    [(name, pa.string()) for name in _DOCUMENT_FIELDS]
    + [("reject_reason", pa.string()), ("reject_detail", pa.string())]
)
_FEATURES = pa.schema(
    [
        ("doc_id", pa.string()),
        ("published", pa.string()),
        ("body_tokens", pa.list_(pa.string())),
        ("body_content", pa.list_(pa.string())),
        ("title_content", pa.list_(pa.string())),
    ]
)
_SIGNATURES = pa.schema([("doc_id", pa.string()), ("view", pa.int32()), ("signature", pa.binary())])
_EDGES = pa.schema(
    [
        ("doc_a", pa.string()),
        ("doc_b", pa.string()),
        ("similarity", pa.float64()),
        ("body_similarity", pa.float64()),
        ("title_similarity", pa.float64()),
        ("shingle_jaccard", pa.float64()),
        ("days_apart", pa.int64()),
        ("views", pa.list_(pa.string())),
    ]
)
_PARTS = pa.schema([("table", pa.string()), ("payload", pa.binary())])
# Sort keys of each output table (dedup/output.py); Arrow's sort is stable, so additions keep
# their reading order within each (cluster, document).
SORT_KEYS = {
    "documents": ["doc_id"],
    "clusters": ["cluster_id"],
    "additions": ["cluster_id", "doc_id"],
    "pairs": ["doc_a", "doc_b"],
}


def spark_schema(schema: pa.Schema) -> Any:
    return from_arrow_schema(schema)


def get_session(master: str | None = DEFAULT_MASTER, app_name: str = "newsdedup") -> SparkSession:
    """The active session (under spark-submit), else a new one on ``master``.

    Local masters run the Python workers with this interpreter (it has newsdedup installed)
    and use a few shuffle partitions per core instead of Spark's cluster-sized 200.
    """
    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false")
    if master:
        builder = builder.master(master)
        if master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            builder = builder.config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 1)))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def is_uri(path: str) -> bool:
    """Inputs with a scheme (s3a://, hdfs://, file://) are listed and read through Spark."""
    return "://" in path


# --- ingest -----------------------------------------------------------------------------


def list_inputs(spark: SparkSession, inputs: Sequence[str]) -> tuple[DataFrame, int]:
    """Input files as (source_path, doc_id, content). Local paths are discovered exactly as the
    local engine does and read by the executors (shared filesystem in a cluster); URIs are
    listed and read by Spark (Hadoop hides names starting with '.' or '_')."""
    local = [p for p in inputs if not is_uri(p)]
    remote = [p for p in inputs if is_uri(p)]
    schema = spark_schema(
        pa.schema([("source_path", pa.string()), ("doc_id", pa.string()), ("content", pa.binary())])
    )
    frames = []
    if local:
        files = discover_inputs(local)
        frames.append(spark.createDataFrame([(f.source_path, f.doc_id, None) for f in files], schema))
    for root in remote:
        jvm = spark.sparkContext._jvm
        hadoop_path = jvm.org.apache.hadoop.fs.Path(root)
        fs = hadoop_path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
        qualified = fs.makeQualified(hadoop_path).toString().rstrip("/")
        is_file = fs.getFileStatus(hadoop_path).isFile()
        raw = spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(root)
        relative = (
            F.regexp_extract("path", r"([^/]+)$", 1)
            if is_file
            else F.expr(f"substring(path, {len(qualified) + 2})")
        )
        frames.append(raw.select(F.col("path").alias("source_path"), relative.alias("doc_id"), "content"))
    files_df = frames[0]
    for frame in frames[1:]:
        files_df = files_df.unionByName(frame)
    files_df = files_df.dropDuplicates(["source_path"]).persist(StorageLevel.MEMORY_AND_DISK)
    n_files = files_df.count()
    if n_files == 0:
        raise InputError("no input files found in: " + ", ".join(inputs))
    return files_df, n_files


def _read_outputs(source_path: str, doc_id: str, content: bytes | None) -> Iterator[SourceRecord | Reject]:
    """read_input on a local path, or on a spooled copy of bytes Spark read from a URI (named
    like the original, so format detection sees the same extension)."""
    if content is None:
        yield from read_input(InputFile(source_path, doc_id))
        return
    with tempfile.TemporaryDirectory() as tmp:
        spooled = Path(tmp) / PurePosixPath(source_path).name
        spooled.write_bytes(content)
        for out in read_input(InputFile(str(spooled), doc_id)):
            yield replace(out, source_path=out.source_path.replace(str(spooled), source_path))


def _read_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        rows = []
        for f in batch.to_pylist():
            for n, out in enumerate(_read_outputs(f["source_path"], f["doc_id"], f["content"])):
                row = {"file_doc_id": f["doc_id"], "file_path": f["source_path"], "record_no": n}
                if isinstance(out, Reject):
                    row.update(
                        source_path=out.source_path,
                        doc_id=out.doc_id,
                        reject_reason=out.reason,
                        reject_detail=out.detail,
                    )
                else:
                    row.update(asdict(out))
                rows.append(row)
        yield pa.RecordBatch.from_pylist(rows, schema=_READ)


def _as_rejects(df: DataFrame, reason: Column, detail: Column) -> DataFrame:
    return df.select("source_path", reason.alias("reason"), detail.alias("detail"), "doc_id")


def ingest(files: DataFrame) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(records, rejects, everything read). As in the local engine, the first record of an id
    in (file doc_id, file path, position) order wins; later ones are ``duplicate_id`` rejects."""
    read = files.mapInArrow(_read_batches, spark_schema(_READ))
    read = read.persist(StorageLevel.MEMORY_AND_DISK)
    records = read.filter(F.col("reject_reason").isNull())
    first = F.min(F.struct("file_doc_id", "file_path", "record_no", "source_path")).over(
        Window.partitionBy("doc_id")
    )
    ranked = records.withColumn("first", first)
    is_first = (
        (F.col("file_doc_id") == F.col("first.file_doc_id"))
        & (F.col("file_path") == F.col("first.file_path"))
        & (F.col("record_no") == F.col("first.record_no"))
    )
    kept = ranked.filter(is_first).drop("first")
    duplicates = _as_rejects(
        ranked.filter(~is_first),
        F.lit("duplicate_id"),
        F.concat(F.lit("already read from "), F.col("first.source_path")),
    )
    read_rejects = _as_rejects(
        read.filter(F.col("reject_reason").isNotNull()), F.col("reject_reason"), F.col("reject_detail")
    )
    return kept, read_rejects.unionByName(duplicates), read


# --- extract ------------------------------------------------------------------------------


def _extract_batches(batches: Iterator[pa.RecordBatch], min_words: int) -> Iterator[pa.RecordBatch]:
    record_fields = SourceRecord.__slots__
    for batch in batches:
        rows = []
        for r in batch.to_pylist():
            out = extract_document(SourceRecord(**{k: r[k] for k in record_fields}), min_words=min_words)
            if isinstance(out, Reject):
                rows.append(
                    {
                        "doc_id": out.doc_id,
                        "source_path": out.source_path,
                        "reject_reason": out.reason,
                        "reject_detail": out.detail,
                    }
                )
            else:
                rows.append({k: getattr(out, k) for k in _DOCUMENT_FIELDS})
        yield pa.RecordBatch.from_pylist(rows, schema=_EXTRACTED)


def extract(records: DataFrame, options: PipelineOptions) -> tuple[DataFrame, DataFrame]:
    extracted = records.mapInArrow(
        partial(_extract_batches, min_words=options.min_words), spark_schema(_EXTRACTED)
    ).persist(StorageLevel.MEMORY_AND_DISK)
    docs = extracted.filter(F.col("reject_reason").isNull()).select(*_DOCUMENT_FIELDS)
    rejects = _as_rejects(
        extracted.filter(F.col("reject_reason").isNotNull()), F.col("reject_reason"), F.col("reject_detail")
    )
    return docs, rejects


# --- fingerprint -------------------------------------------------------------------------


def _feature_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Tokenise once, as the local engine does (DocumentFeatures)."""
    for batch in batches:
        docs = [Document(**row) for row in batch.to_pylist()]
        features = DocumentFeatures.of(docs)
        columns = {
            "doc_id": [d.doc_id for d in docs],
            "published": [d.published for d in docs],
            "body_tokens": features.tokens,
            "body_content": features.content,
            "title_content": features.titles,
        }
        yield pa.RecordBatch.from_pydict(columns, schema=_FEATURES)


def term_weights(features: DataFrame, n_documents: int) -> TermWeights:
    """TermWeights.fit over the whole corpus: document frequencies aggregated by Spark."""
    counts = (
        features.select(F.explode(F.array_distinct("body_content")).alias("term")).groupBy("term").count()
    )
    return TermWeights(Counter(dict(counts.collect())), n_documents)


def _signature_batches(
    batches: Iterator[pa.RecordBatch], weights: Broadcast[TermWeights], options: PipelineOptions
) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        columns = batch.to_pydict()
        features = DocumentFeatures(columns["body_tokens"], columns["body_content"], columns["title_content"])
        signatures = features.signatures(weights.value, options)
        rows = [
            {"doc_id": doc_id, "view": v, "signature": signature.tobytes()}
            for v, view in enumerate(options.views)
            for doc_id, signature in zip(columns["doc_id"], signatures[view.name], strict=True)
        ]
        yield pa.RecordBatch.from_pylist(rows, schema=_SIGNATURES)


# --- candidates ---------------------------------------------------------------------------


def candidate_pairs(signatures: DataFrame, options: PipelineOptions) -> DataFrame:
    """(doc_a, doc_b, view indices) of every pair sharing a bucket in any view, as
    dedup/candidates.py: band i = hash values i*rows .. (i+1)*rows, exact equality, buckets
    larger than the view's max_bucket skipped."""
    width = minhash_signatures([set()], options.minhash).dtype.itemsize
    pairs = []
    for v, view in enumerate(options.views):
        if view.bands * view.rows > options.minhash.num_perm:
            raise ValueError(
                f"view {view.name!r}: {view.bands} x {view.rows} bands exceed "
                f"{options.minhash.num_perm} perms"
            )
        size = view.rows * width
        banded = signatures.filter(F.col("view") == v).select(
            "doc_id", F.explode(F.sequence(F.lit(0), F.lit(view.bands - 1))).alias("band"), "signature"
        )
        keyed = banded.select(
            "doc_id", "band", F.col("signature").substr(F.col("band") * size + 1, F.lit(size)).alias("key")
        )
        buckets = (
            keyed.groupBy("band", "key")
            .agg(F.collect_list("doc_id").alias("members"))
            .filter(F.size("members").between(2, view.max_bucket))
        )
        pairs.append(
            buckets.select(F.explode("members").alias("doc_a"), "members")
            .select("doc_a", F.explode("members").alias("doc_b"))
            .filter(F.col("doc_a") < F.col("doc_b"))
            .select("doc_a", "doc_b", F.lit(v).alias("view"))
        )
    union = pairs[0]
    for frame in pairs[1:]:
        union = union.unionByName(frame)
    return union.groupBy("doc_a", "doc_b").agg(F.array_sort(F.collect_set("view")).alias("views"))


# --- verify -------------------------------------------------------------------------------


def _verify_batches(
    batches: Iterator[pa.RecordBatch], weights: Broadcast[TermWeights], options: PipelineOptions
) -> Iterator[pa.RecordBatch]:
    """Verifier.verify over a batch of candidate pairs, with a Verifier over the batch's docs."""
    names = [view.name for view in options.views]
    for batch in batches:
        pairs = batch.to_pylist()
        features = {p["doc_a"]: p["a"] for p in pairs} | {p["doc_b"]: p["b"] for p in pairs}
        ids = sorted(features)
        index = {doc_id: i for i, doc_id in enumerate(ids)}
        docs = [features[doc_id] for doc_id in ids]
        verifier = Verifier(
            [d["body_content"] for d in docs],
            [d["title_content"] for d in docs],
            [d["published"] for d in docs],
            weights.value,
            options,
        )
        candidates = {
            (index[p["doc_a"]], index[p["doc_b"]]): tuple(names[v] for v in p["views"]) for p in pairs
        }
        edges = verifier.verify(candidates, [d["body_tokens"] for d in docs])
        rows = [{"doc_a": ids[e.a], "doc_b": ids[e.b], **pair_signals(e)} for e in edges]
        yield pa.RecordBatch.from_pylist(rows, schema=_EDGES)


def verify(
    candidates: DataFrame, features: DataFrame, weights: Broadcast[TermWeights], options: PipelineOptions
) -> DataFrame:
    packed = features.select("doc_id", F.struct(*[c for c in _FEATURES.names if c != "doc_id"]).alias("f"))
    joined = candidates.join(
        packed.withColumnRenamed("doc_id", "doc_a").withColumnRenamed("f", "a"), "doc_a"
    ).join(packed.withColumnRenamed("doc_id", "doc_b").withColumnRenamed("f", "b"), "doc_b")
    return joined.mapInArrow(partial(_verify_batches, weights=weights, options=options), spark_schema(_EDGES))


# --- cluster ------------------------------------------------------------------------------


def _cut_lineage(df: DataFrame) -> DataFrame:
    """Checkpoint to spark.checkpoint.dir when one is set (fault tolerant), else locally."""
    if df.sparkSession.sparkContext._jsc.sc().getCheckpointDir().isDefined():
        return df.checkpoint(eager=True)
    return df.localCheckpoint(eager=True)


def connected_components(edges: DataFrame) -> DataFrame:
    """(doc_id, component) for every document on a verified edge; the component is its
    smallest doc_id. Large-star / small-star (Kiveris et al., 2014) until the graph is a set
    of stars around each component's minimum: O(log n) rounds of DataFrame joins."""
    graph = _cut_lineage(
        edges.select(F.col("doc_b").alias("node"), F.col("doc_a").alias("parent")).distinct()
    )
    while True:
        both = graph.unionByName(graph.select(F.col("parent").alias("node"), F.col("node").alias("parent")))
        smallest = F.least(F.col("node"), F.min("parent").over(Window.partitionBy("node")))
        large = (
            both.withColumn("m", smallest)
            .filter(F.col("parent") > F.col("node"))
            .select(F.col("parent").alias("node"), F.col("m").alias("parent"))
        )
        smallest = F.min("parent").over(Window.partitionBy("node"))
        with_min = large.withColumn("m", smallest)
        small = (
            with_min.select(F.col("parent").alias("node"), F.col("m").alias("parent"))
            .unionByName(with_min.select("node", F.col("m").alias("parent")))
            .filter(F.col("node") != F.col("parent"))
            .distinct()
        )
        small = _cut_lineage(small)
        if small.count() == graph.count() and small.exceptAll(graph).isEmpty():
            return small.select(F.col("node").alias("doc_id"), F.col("parent").alias("component"))
        graph = small


# --- cluster + canonicalise, per group of components ---------------------------------------


def _story_tables(
    docs_table: pa.Table,
    edges_table: pa.Table,
    weights: Broadcast[TermWeights],
    options: PipelineOptions,
    policy: str,
) -> pa.Table:
    """The local engine's cluster and canonicalise steps over whole components; returns each
    output table's slice as Arrow IPC bytes."""
    docs = sorted(
        (Document(**{k: row[k] for k in _DOCUMENT_FIELDS}) for row in docs_table.to_pylist()),
        key=lambda d: d.doc_id,
    )
    index = {d.doc_id: i for i, d in enumerate(docs)}
    edges = [
        PairEdge(
            a=index[e["doc_a"]],
            b=index[e["doc_b"]],
            similarity=e["similarity"],
            body_similarity=e["body_similarity"],
            title_similarity=e["title_similarity"],
            shingle_jaccard=e["shingle_jaccard"],
            days_apart=e["days_apart"],
            views=tuple(e["views"]),
        )
        for e in edges_table.to_pylist()
    ]
    features = DocumentFeatures.of(docs)
    verifier = features.verifier(docs, weights.value, options)
    stories = cluster_stories(
        len(docs),
        [(e.a, e.b) for e in edges],
        options.threshold,
        options.cohesion_ratio,
        verifier.similarity_matrix,
    )
    grouping = Grouping(edges, stories, len(edges), verifier, weights.value, features.tokens)
    canonical = canonicalise(docs, grouping, options, policy)
    tables = {
        "documents": documents_table(docs, canonical),
        "clusters": clusters_table(docs, canonical),
        "additions": additions_table(docs, canonical),
        "pairs": pairs_table(docs, edges, story_index(canonical)),
    }
    return pa.table({"table": list(tables), "payload": [_ipc(t) for t in tables.values()]}, schema=_PARTS)


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(payload: bytes) -> pa.Table:
    return pa.ipc.open_stream(payload).read_all()


def story_parts(
    docs: DataFrame,
    edges: DataFrame,
    components: DataFrame,
    n_documents: int,
    weights: Broadcast[TermWeights],
    options: PipelineOptions,
    policy: str,
) -> DataFrame:
    """(table, payload) rows: every group of components' slice of the four story tables
    (cogrouped ``applyInArrow``: documents and edges of the same components meet)."""
    n_groups = max(docs.sparkSession.sparkContext.defaultParallelism, math.ceil(n_documents / DOCS_PER_GROUP))
    group = F.pmod(F.xxhash64("component"), F.lit(n_groups)).alias("group")
    docs_grouped = docs.join(components, "doc_id", "left").select(
        *_DOCUMENT_FIELDS, F.coalesce("component", "doc_id").alias("component")
    )
    docs_grouped = docs_grouped.select(*_DOCUMENT_FIELDS, group)
    # doc_b > doc_a is never its component's smallest doc_id, so it always has a component.
    edges_grouped = edges.join(components.withColumnRenamed("doc_id", "doc_b"), "doc_b").select(
        *_EDGES.names, group
    )
    return (
        docs_grouped.groupBy("group")
        .cogroup(edges_grouped.groupBy("group"))
        .applyInArrow(
            partial(_story_tables, weights=weights, options=options, policy=policy), spark_schema(_PARTS)
        )
    )


# --- the run ------------------------------------------------------------------------------


@dataclass
class SparkRun:
    """A finished Spark run: the output tables' parts (still on the cluster) and its counts."""

    parts: DataFrame
    rejects: DataFrame
    input_files: int
    input_records: int
    n_documents: int
    n_candidates: int
    n_verified: int
    timings: dict[str, float] = field(default_factory=dict)

    def collect_tables(self) -> dict[str, pa.Table]:
        """Every output table on the driver, sorted like the local engine's (small outputs)."""
        slices: dict[str, list[pa.Table]] = {name: [] for name in SORT_KEYS}
        for row in self.parts.toLocalIterator():
            slices[row["table"]].append(_from_ipc(bytes(row["payload"])))
        tables = {
            name: pa.concat_tables(parts or [OUTPUT_SCHEMAS[name].empty_table()]).sort_by(
                [(key, "ascending") for key in SORT_KEYS[name]]
            )
            for name, parts in slices.items()
        }
        tables["rejects"] = rejects_table([Reject(**r.asDict()) for r in self.rejects.collect()])
        # Tables a batch run leaves empty (merges: incremental runs only) keep their schema.
        return {name: tables.get(name, schema.empty_table()) for name, schema in OUTPUT_SCHEMAS.items()}

    def table_frames(self) -> dict[str, DataFrame]:
        """Every output table as a sorted Spark DataFrame with the output schema (any size)."""
        frames = {}
        for name, keys in SORT_KEYS.items():
            schema = OUTPUT_SCHEMAS[name]
            decoded = self.parts.filter(F.col("table") == name).mapInArrow(
                partial(_decode_parts, schema=schema),
                spark_schema(schema.append(pa.field("_row", pa.int64()))),
            )
            frames[name] = decoded.orderBy(*keys, "_row").drop("_row")
        frames["rejects"] = self.rejects.orderBy(
            "source_path", F.coalesce("doc_id", F.lit("")), "reason", "detail"
        )
        spark = self.parts.sparkSession
        return {
            name: frames.get(name, spark.createDataFrame([], spark_schema(schema)))
            for name, schema in OUTPUT_SCHEMAS.items()
        }


def _decode_parts(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """Decode IPC slices; ``_row`` keeps each slice's order through Spark's unstable sort."""
    for batch in batches:
        for payload in batch.column("payload").to_pylist():
            table = _from_ipc(payload).cast(schema)
            table = table.append_column("_row", pa.array(range(table.num_rows), pa.int64()))
            yield from table.to_batches()


def run_spark(inputs: Sequence[str], options: PipelineOptions, policy: str, spark: SparkSession) -> SparkRun:
    """Every stage up to the output tables; each stage is materialised (persisted and counted)
    inside its timer so the timings say where the time goes."""
    timer = StageTimer()
    keep = StorageLevel.MEMORY_AND_DISK
    with timer("ingest"):
        files, n_files = list_inputs(spark, inputs)
        records, read_rejects, read = ingest(files)
        records = records.persist(keep)
        input_records = read.count()
    with timer("extract"):
        docs, extract_rejects = extract(records, options)
        docs = docs.persist(keep)
        n_documents = docs.count()
        rejects = read_rejects.unionByName(extract_rejects).persist(keep)
        rejects.count()
    with timer("fingerprint"):
        features = docs.mapInArrow(_feature_batches, spark_schema(_FEATURES)).persist(keep)
        weights = spark.sparkContext.broadcast(term_weights(features, n_documents))
        signatures = features.select("doc_id", "body_tokens", "body_content", "title_content").mapInArrow(
            partial(_signature_batches, weights=weights, options=options), spark_schema(_SIGNATURES)
        )
        signatures = signatures.persist(keep)
        signatures.count()
    with timer("candidates"):
        candidates = candidate_pairs(signatures, options).persist(keep)
        n_candidates = candidates.count()
    with timer("verify"):
        edges = verify(candidates, features, weights, options).persist(keep)
        n_verified = edges.count()
    with timer("cluster"):
        components = connected_components(edges).persist(keep)
        components.count()
    with timer("canonicalise"):
        parts = story_parts(docs, edges, components, n_documents, weights, options, policy).persist(keep)
        parts.count()
    return SparkRun(
        parts=parts,
        rejects=rejects,
        input_files=n_files,
        input_records=input_records,
        n_documents=n_documents,
        n_candidates=n_candidates,
        n_verified=n_verified,
        timings=timer.seconds,
    )


# --- manifest -----------------------------------------------------------------------------


def spark_manifest(
    run: SparkRun,
    inputs: Sequence[str],
    fingerprint: dict[str, Any],
    options: PipelineOptions,
    policy: str,
    cluster_sizes: Mapping[int, int],
    table_rows: dict[str, int],
) -> dict[str, Any]:
    """The local engine's manifest (dedup/manifest.py) with engine "spark". ``cluster_sizes``
    counts the stories of each size."""
    counts = RunCounts(
        input_files=run.input_files,
        input_records=run.input_records,
        documents=run.n_documents,
        rejects_by_reason={r["reason"]: r["count"] for r in run.rejects.groupBy("reason").count().collect()},
        candidate_pairs=run.n_candidates,
        verified_pairs=run.n_verified,
        story_sizes=cluster_sizes,
        timings=run.timings,
    )
    return build_manifest(counts, inputs, fingerprint, options, policy, table_rows, engine="spark")


def run_spark_tables(
    inputs: Sequence[str],
    fingerprint: dict[str, Any],
    options: PipelineOptions,
    policy: str,
    spark: SparkSession,
) -> tuple[dict[str, pa.Table], dict[str, Any]]:
    """Tables collected to the driver and the manifest: what dedup.output.publish writes."""
    run = run_spark(inputs, options, policy, spark)
    started = time.perf_counter()
    tables = run.collect_tables()
    run.timings["collect"] = time.perf_counter() - started
    sizes = Counter(tables["clusters"]["size"].to_pylist())
    manifest = spark_manifest(
        run, inputs, fingerprint, options, policy, sizes, {k: t.num_rows for k, t in tables.items()}
    )
    return tables, manifest


# --- inputs and outputs at any URI (pipelines/spark_job.py) ------------------------------


_DIGESTS = pa.schema([("doc_id", pa.string()), ("bytes", pa.int64()), ("digest", pa.binary())])


def _digest_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        rows = []
        for f in batch.to_pylist():
            data = f["content"] if f["content"] is not None else Path(f["source_path"]).read_bytes()
            rows.append({"doc_id": f["doc_id"], "bytes": len(data), "digest": xxhash.xxh3_128_digest(data)})
        yield pa.RecordBatch.from_pylist(rows, schema=_DIGESTS)


def uri_fingerprint(spark: SparkSession, inputs: Sequence[str]) -> dict[str, Any]:
    """dedup.manifest.input_fingerprint for inputs Spark reads: the same digest (every file's
    id and xxh3-128 of its bytes, in doc_id order), with the bytes hashed on the executors."""
    files, n_files = list_inputs(spark, inputs)
    rows = files.mapInArrow(_digest_batches, spark_schema(_DIGESTS)).orderBy("doc_id").collect()
    digest = xxhash.xxh3_128()
    for row in rows:
        digest.update(row["doc_id"].encode("utf-8") + b"\0" + bytes(row["digest"]))
    return {"files": n_files, "bytes": sum(row["bytes"] for row in rows), "xxh3_128": digest.hexdigest()}


def publish_uri(
    spark: SparkSession, out: str, frames: dict[str, DataFrame], manifest: dict[str, Any]
) -> None:
    """Write every table with Spark (a folder of part files per table) and the manifest into a
    staging folder beside ``out``, then swap it in with Hadoop FileSystem renames.

    On HDFS (and local or NFS paths) a folder rename is atomic: readers see the previous
    outputs or the new ones. On object stores (s3a://, gs://) a rename is a copy, so the swap
    is not atomic there: write each run to a fresh prefix and read a run only once its
    manifest.json exists (it is written after every table).
    """
    hadoop = spark.sparkContext._jvm.org.apache.hadoop.fs
    target = hadoop.Path(out)
    fs = target.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    token = uuid.uuid4().hex[:12]
    staging = hadoop.Path(target.getParent(), f".{target.getName()}.staging-{token}")
    for name, frame in frames.items():
        frame.write.option("compression", "zstd").parquet(hadoop.Path(staging, TABLE_FILES[name]).toString())
    stream = fs.create(hadoop.Path(staging, MANIFEST_FILE))
    stream.write(bytearray(json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8") + b"\n"))
    stream.close()
    if fs.exists(target):
        previous = hadoop.Path(target.getParent(), f".{target.getName()}.previous-{token}")
        fs.rename(target, previous)
        fs.rename(staging, target)
        fs.delete(previous, True)
    else:
        fs.rename(staging, target)
