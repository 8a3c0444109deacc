"""The Spark engine: the local engine's stages on a cluster, for corpora beyond one machine.

It only orchestrates, like the local engine, and calls the same stage functions:

- per-document work (read, extract, content words, keyword sets, MinHash signatures) runs
  inside Arrow UDFs (``mapInArrow``) on the executors; content words are computed once and
  travel with the documents;
- corpus document frequencies and the corpus term order are one Spark aggregate, turned into
  ``TermWeights`` on the driver and broadcast (``CorpusTerms``);
- banding, candidate pairs and connected components (large-star/small-star) are DataFrame
  operations, so no step ever holds the corpus in one place;
- verification splits the candidate pairs into groups (a hash of doc_a, one group per core by
  default); each group's documents are shuffled to it once, sorted ahead of its pairs, and ONE
  ``Verifier`` over them scores all of the group's pairs as they stream past;
- clustering and canonicalisation run the local engine's code over groups of whole
  connected components (cogrouped ``applyInArrow``), each group emitting its slice of the
  documents, clusters, additions and pairs tables.

Documents are ordered by ``doc_id`` inside every group, as the local engine orders the whole
batch, and every Verifier numbers its terms in the corpus order (``primed_verifier``), so both
engines give the same stories, canonicals and additions, and the same similarities bit for bit.
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
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyarrow as pa
import xxhash
from pyspark import StorageLevel
from pyspark.broadcast import Broadcast
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from dedup.cluster import cluster_stories
from dedup.config import LSHView, PipelineOptions
from dedup.engines.local import DocumentFeatures, Grouping, StageTimer, canonicalise
from dedup.extract import extract_document
from dedup.fingerprint import minhash_signatures
from dedup.ingest import InputFile, decoded, discover_inputs, read_input
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
from dedup.text import tokens
from dedup.verify import ENGINE_VECTOR_DTYPE, Verifier
from dedup.weights import TermWeights

DEFAULT_MASTER = "local[*]"
# Documents per clustering group: whole components are hashed into groups of about this many
# documents, so millions of singletons do not cost one Python call each.
DOCS_PER_GROUP = 2000
# Candidate pairs a verification group scores per Verifier.verify call (bounds Python memory:
# the pairs of a group stream through its one Verifier).
PAIRS_PER_CHUNK = 200_000
# Overrides the number of verification groups (default: one per core).
VERIFY_GROUPS_CONF = "spark.newsdedup.verifyGroups"
# Rows per Arrow batch sent to the Python workers, unless spark.sql.execution.arrow.maxRecordsPerBatch
# is set: per-document stages hold a batch of documents (HTML pages can be large) in Python.
ARROW_BATCH_ROWS = 2000
# Driver heap for local masters (the driver is the only executor there), unless
# spark.driver.memory is given. The Python workers' memory is outside it.
LOCAL_DRIVER_MEMORY = "4g"

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
# Documents with their content words, space-joined (words never hold a space).
_FEATURES = pa.schema(
    [(name, pa.string()) for name in _DOCUMENT_FIELDS]
    + [("body_content", pa.string()), ("title_content", pa.string())]
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


def local_cores(master: str) -> int:
    """Cores of a local master: local -> 1, local[N] / local[N,F] -> N, local[*] -> all."""
    if master == "local":
        return 1
    inner = master[master.index("[") + 1 : master.index("]")].split(",")[0] if "[" in master else "*"
    return os.cpu_count() or 1 if inner == "*" else max(1, int(inner))


def get_session(
    master: str | None = DEFAULT_MASTER, app_name: str = "newsdedup", config: Mapping[str, str] | None = None
) -> SparkSession:
    """The active session (under spark-submit), else a new one on ``master``.

    Local masters run the Python workers with this interpreter (it has newsdedup installed),
    use two shuffle partitions per core instead of Spark's cluster-sized 200, and get a
    ``LOCAL_DRIVER_MEMORY`` heap. ``config`` entries (e.g. spark.driver.memory) win over these
    defaults; under spark-submit its --conf settings are left alone.
    """
    config = dict(config or {})
    builder = SparkSession.builder.appName(app_name).config("spark.ui.showConsoleProgress", "false")
    if master:
        builder = builder.master(master)
        if master.startswith("local"):
            os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
            config.setdefault("spark.sql.shuffle.partitions", str(2 * local_cores(master)))
            config.setdefault("spark.driver.memory", LOCAL_DRIVER_MEMORY)
    for key, value in config.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    arrow_batch = "spark.sql.execution.arrow.maxRecordsPerBatch"
    if arrow_batch not in config and not spark.sparkContext.getConf().contains(arrow_batch):
        spark.conf.set(arrow_batch, str(ARROW_BATCH_ROWS))
    return spark


def _started_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield from batches  # unpickling this function imported this module and every stage


def start_workers(spark: SparkSession) -> float:
    """Start a Python worker on every core and import the stage modules there; returns the
    seconds it took. Optional (the first stage pays it otherwise): the benchmark calls it to
    show worker start-up apart from the stages. Spark stops a Python worker after a minute
    idle, so a long JVM-only stage (candidates, connected components) makes the next Python
    stage start its workers again."""
    started = time.perf_counter()
    n = spark.sparkContext.defaultParallelism
    spark.range(n, numPartitions=n).mapInArrow(_started_batches, "id long").count()
    return time.perf_counter() - started


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
    like the original, so format detection sees the same extension); pages decoded here, as
    the records' content column is text."""
    if content is None:
        yield from map(decoded, read_input(InputFile(source_path, doc_id)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        spooled = Path(tmp) / PurePosixPath(source_path).name
        spooled.write_bytes(content)
        for out in map(decoded, read_input(InputFile(str(spooled), doc_id))):
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


def extract(records: DataFrame, options: PipelineOptions) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(documents, rejects, everything extracted: persisted, for the caller to unpersist)."""
    extracted = records.mapInArrow(
        partial(_extract_batches, min_words=options.min_words), spark_schema(_EXTRACTED)
    ).persist(StorageLevel.MEMORY_AND_DISK)
    docs = extracted.filter(F.col("reject_reason").isNull()).select(*_DOCUMENT_FIELDS)
    rejects = _as_rejects(
        extracted.filter(F.col("reject_reason").isNotNull()), F.col("reject_reason"), F.col("reject_detail")
    )
    return docs, rejects, extracted


# --- fingerprint -------------------------------------------------------------------------


def _feature_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Every document with its content words (body and title), tokenised once by the local
    engine's DocumentFeatures and kept space-joined: one Arrow string a document is far cheaper
    to move and to read back in Python than a list of hundreds of strings."""
    for batch in batches:
        docs = [Document(**row) for row in batch.to_pylist()]
        features = DocumentFeatures.of(docs, language=None)  # weights: term_statistics
        content = pa.array([" ".join(words) for words in features.content], pa.string())
        titles = pa.array([" ".join(words) for words in features.titles], pa.string())
        yield pa.RecordBatch.from_arrays(
            [*batch.select(list(_DOCUMENT_FIELDS)).columns, content, titles], schema=_FEATURES
        )


def _words(column: pa.Array | pa.ChunkedArray) -> list[list[str]]:
    """Space-joined word lists back to lists, one string object per distinct word (as the
    local engine's one vocabulary array holds them)."""
    intern = sys.intern
    return [list(map(intern, joined.split())) for joined in column.to_pylist()]


class _TokensOf(Sequence[list[str]]):
    """Every token of each text, tokenised when asked: only the shingles of verified pairs and
    the relation labels read them (the local engine's TokensOnDemand, over plain texts)."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [tokens(t) for t in self.texts[i]]
        return tokens(self.texts[i])


@dataclass(frozen=True)
class CorpusTerms:
    """What every Python worker needs of the whole corpus, broadcast once: the term weights
    (``TermWeights.fit`` over all documents) and the order in which the local engine's single
    Verifier numbers the terms (first appearance in doc_id order: body words of every document,
    then title words).

    A Verifier over a subset of documents numbers its terms in the subset's order, and the
    cosines then add the same products in another order: the last bit of a float differs (for
    about half of all pairs), which can flip a tie or a threshold. ``primed_verifier`` gives
    every Verifier the corpus order, so all its floats are the local engine's, bit for bit."""

    weights: TermWeights
    order: dict[str, int]


def term_statistics(features: DataFrame, n_documents: int) -> CorpusTerms:
    """Document frequencies (TermWeights.fit over the corpus) and the corpus term order, as one
    Spark aggregate over every document's distinct words. ``array_distinct`` keeps first
    occurrences in order, so a word's first (doc_id, position) orders it as the local engine's
    vocabulary does; Spark and Python both compare strings by code point."""

    def first_seen(column: str) -> DataFrame:
        words = F.array_distinct(F.split(column, " "))
        exploded = features.select("doc_id", F.posexplode(words).alias("pos", "term"))
        return exploded.filter(F.col("term") != "")

    body = (
        first_seen("body_content")
        .groupBy("term")
        .agg(F.count("*").alias("df"), F.min(F.struct("doc_id", "pos")).alias("body"))
    )
    title = first_seen("title_content").groupBy("term").agg(F.min(F.struct("doc_id", "pos")).alias("title"))
    stats = body.join(title, "term", "full_outer").select(
        "term",
        "df",
        F.col("body.doc_id").alias("body_doc"),
        F.col("body.pos").alias("body_pos"),
        F.col("title.doc_id").alias("title_doc"),
        F.col("title.pos").alias("title_pos"),
    )
    table = stats.toArrow()
    terms = table.column("term").to_pylist()
    df = table.column("df").to_pylist()
    body_doc, body_pos = table.column("body_doc").to_pylist(), table.column("body_pos").to_pylist()
    title_doc, title_pos = table.column("title_doc").to_pylist(), table.column("title_pos").to_pylist()
    keys = [
        (0, body_doc[i], body_pos[i]) if body_doc[i] is not None else (1, title_doc[i], title_pos[i])
        for i in range(len(terms))
    ]
    ordered = sorted(range(len(terms)), key=keys.__getitem__)
    frequencies = Counter({terms[i]: df[i] for i in ordered if df[i] is not None})
    return CorpusTerms(TermWeights(frequencies, n_documents), {terms[i]: r for r, i in enumerate(ordered)})


def primed_verifier(
    content: Sequence[Sequence[str]],
    titles: Sequence[Sequence[str]],
    published: Sequence[str | None],
    corpus: CorpusTerms,
    options: PipelineOptions,
) -> Verifier:
    """A Verifier whose row 0 is a priming row (every word of these documents, in corpus order,
    so its term numbering is the corpus's) and row ``i + 1`` document ``i``. Rows are scored
    independently (their values depend on their words and the corpus IDF only), so the primer
    changes no other row; callers shift indices by one (``_Rebased``)."""
    words = set(chain.from_iterable(content))
    words.update(chain.from_iterable(titles))
    primer = sorted(words, key=corpus.order.__getitem__)
    return Verifier(
        [primer, *content], [[], *titles], [None, *published], corpus.weights, options, ENGINE_VECTOR_DTYPE
    )


class _Rebased:
    """The similarity functions clustering and canonicalisation call, over a primed Verifier
    (document ``i`` is its row ``i + 1``)."""

    def __init__(self, verifier: Verifier) -> None:
        self.verifier = verifier

    def similarity(self, pairs: np.ndarray) -> np.ndarray:
        return self.verifier.similarity(np.asarray(pairs, dtype=np.int64) + 1)

    def similarity_matrix(self, docs: np.ndarray) -> np.ndarray:
        return self.verifier.similarity_matrix(np.asarray(docs, dtype=np.int64) + 1)

    def similarity_matrices(self, groups: Sequence[np.ndarray]) -> list[np.ndarray]:
        return self.verifier.similarity_matrices([np.asarray(g, dtype=np.int64) + 1 for g in groups])


def _signature_batches(
    batches: Iterator[pa.RecordBatch], corpus: Broadcast[CorpusTerms], options: PipelineOptions
) -> Iterator[pa.RecordBatch]:
    weights = corpus.value.weights
    for batch in batches:
        ids = batch.column("doc_id").to_pylist()
        texts = batch.column("text").to_pylist() if any(v.kind == "shingles" for v in options.views) else []
        features = DocumentFeatures(
            _TokensOf(texts), _words(batch.column("body_content")), _words(batch.column("title_content"))
        )
        signatures = features.signatures(weights, options)
        yield pa.RecordBatch.from_pydict(
            {
                "doc_id": ids * len(options.views),
                "view": [v for v in range(len(options.views)) for _ in ids],
                "signature": [row.tobytes() for view in options.views for row in signatures[view.name]],
            },
            schema=_SIGNATURES,
        )


# --- candidates ---------------------------------------------------------------------------


def _band_caps(buckets: DataFrame, view: LSHView, n_documents: int) -> DataFrame | None:
    """Per band, the largest bucket size kept when the view bounds each band's pairs
    (``max_band_pairs_per_doc``): dedup.candidates.size_cap over the band's bucket sizes."""
    per_doc = getattr(view, "max_band_pairs_per_doc", None)
    if per_doc is None:
        return None
    from dedup.candidates import size_cap

    histogram = buckets.groupBy("band", "size").count().collect()
    sizes: dict[int, list[tuple[int, int]]] = {}
    for row in histogram:
        sizes.setdefault(row["band"], []).append((row["size"], row["count"]))
    budget = int(per_doc * n_documents)
    caps = [
        (band, size_cap(np.repeat([s for s, _ in counts], [c for _, c in counts]), view.max_bucket, budget))
        for band, counts in sizes.items()
    ]
    spark = buckets.sparkSession
    return spark.createDataFrame(caps, "band int, cap int")


def candidate_pairs(signatures: DataFrame, options: PipelineOptions, n_documents: int = 0) -> DataFrame:
    """(doc_a, doc_b, view indices) of every pair sharing a bucket in any view, as
    dedup/candidates.py: band i = hash values i*rows .. (i+1)*rows, exact equality, buckets
    larger than the view's max_bucket skipped. Each bucket's members are sorted and paired
    with the members after them, so every pair is made once per bucket."""
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
            .agg(F.array_sort(F.collect_list("doc_id")).alias("members"))
            .withColumn("size", F.size("members"))
            .filter(F.col("size").between(2, view.max_bucket))
        )
        caps = _band_caps(buckets, view, n_documents)
        if caps is not None:
            buckets = buckets.join(F.broadcast(caps), "band").filter(F.col("size") <= F.col("cap"))
        pairs.append(
            buckets.select("members", F.posexplode("members").alias("pos", "doc_a"))
            .select(
                "doc_a",
                F.explode(F.slice("members", F.col("pos") + 2, F.lit(view.max_bucket))).alias("doc_b"),
            )
            .select("doc_a", "doc_b", F.lit(v).alias("view"))
        )
    union = pairs[0]
    for frame in pairs[1:]:
        union = union.unionByName(frame)
    if len(pairs) == 1:  # one view: a plain distinct (a hash aggregate without collect_set)
        return union.select("doc_a", "doc_b").distinct().withColumn("views", F.array(F.lit(0)))
    return union.groupBy("doc_a", "doc_b").agg(F.array_sort(F.collect_set("view")).alias("views"))


# --- verify -------------------------------------------------------------------------------

_DOC_ROW, _PAIR_ROW = 0, 1
_VERIFY_COLUMNS = [
    "group",
    "kind",
    "doc_id",
    "doc_b",
    "views",
    "published",
    "text",
    "body_content",
    "title_content",
]


class _VerifyGroup:
    """One verification group inside a partition: its documents arrive first (sorted before
    the pairs), then its candidate pairs, scored by ONE Verifier over the group's documents in
    chunks of ``PAIRS_PER_CHUNK``."""

    def __init__(self, group: int, corpus: CorpusTerms, options: PipelineOptions) -> None:
        self.group = group
        self.corpus = corpus
        self.options = options
        self.names = [view.name for view in options.views]
        self.ids: list[str] = []
        self.published: list[str | None] = []
        self.texts: list[str] = []
        self.content: list[list[str]] = []
        self.titles: list[list[str]] = []
        self.verifier: Verifier | None = None
        self.index: dict[str, int] = {}
        self.pending: list[pa.RecordBatch] = []
        self.n_pending = 0

    def add_documents(self, batch: pa.RecordBatch) -> None:
        self.ids += batch.column("doc_id").to_pylist()
        self.published += batch.column("published").to_pylist()
        self.texts += batch.column("text").to_pylist()
        self.content += _words(batch.column("body_content"))
        self.titles += _words(batch.column("title_content"))

    def add_pairs(self, batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        self.pending.append(batch.select(["doc_id", "doc_b", "views"]))
        self.n_pending += batch.num_rows
        if self.n_pending >= PAIRS_PER_CHUNK:
            yield from self.flush()

    def _build(self) -> Verifier:
        # Documents in doc_id order (as the local engine holds them): index a < index b.
        order = sorted(range(len(self.ids)), key=self.ids.__getitem__)
        self.ids = [self.ids[i] for i in order]
        self.texts = [self.texts[i] for i in order]
        # Row 0 of the Verifier is its primer: document i is row i + 1 everywhere here.
        self.index = {doc_id: i + 1 for i, doc_id in enumerate(self.ids)}
        self.ids, self.texts = ["", *self.ids], ["", *self.texts]
        verifier = primed_verifier(
            [self.content[i] for i in order],
            [self.titles[i] for i in order],
            [self.published[i] for i in order],
            self.corpus,
            self.options,
        )
        self.content, self.titles, self.published = [], [], []
        return verifier

    def flush(self) -> Iterator[pa.RecordBatch]:
        if not self.n_pending:
            return
        if self.verifier is None:
            self.verifier = self._build()
        pairs = pa.Table.from_batches(self.pending)
        self.pending, self.n_pending = [], 0
        index, names = self.index, self.names
        candidates = {
            (index[a], index[b]): tuple(names[v] for v in views)
            for a, b, views in zip(
                pairs.column("doc_id").to_pylist(),
                pairs.column("doc_b").to_pylist(),
                pairs.column("views").to_pylist(),
                strict=True,
            )
        }
        edges = self.verifier.verify(candidates, _TokensOf(self.texts))
        ids = self.ids
        rows = [{"doc_a": ids[e.a], "doc_b": ids[e.b], **pair_signals(e)} for e in edges]
        yield pa.RecordBatch.from_pylist(rows, schema=_EDGES)


def _verify_partition(
    batches: Iterator[pa.RecordBatch], corpus: Broadcast[CorpusTerms], options: PipelineOptions
) -> Iterator[pa.RecordBatch]:
    """Rows sorted by (group, kind): each group's documents, then its pairs."""
    current: _VerifyGroup | None = None
    for batch in batches:
        groups = batch.column("group").to_numpy(zero_copy_only=False)
        kinds = batch.column("kind").to_numpy(zero_copy_only=False)
        cuts = np.flatnonzero((groups[1:] != groups[:-1]) | (kinds[1:] != kinds[:-1])) + 1
        for start, stop in zip([0, *cuts.tolist()], [*cuts.tolist(), batch.num_rows], strict=True):
            if stop == start:
                continue
            group, segment = int(groups[start]), batch.slice(start, stop - start)
            if current is None or current.group != group:
                if current is not None:
                    yield from current.flush()
                current = _VerifyGroup(group, corpus.value, options)
            if kinds[start] == _DOC_ROW:
                current.add_documents(segment)
            else:
                yield from current.add_pairs(segment)
    if current is not None:
        yield from current.flush()


def verify_groups(spark: SparkSession) -> int:
    """Verification groups: one Verifier each, over the documents its pairs need. By default
    one per core (``defaultParallelism``); ``spark.newsdedup.verifyGroups`` overrides it (more
    groups: less memory per task when the candidate graph is sparse)."""
    configured = spark.conf.get(VERIFY_GROUPS_CONF, None)
    return max(1, int(configured) if configured else spark.sparkContext.defaultParallelism)


def _routes(spark: SparkSession, n: int) -> list[int]:
    """For each partition p of ``repartition(n, col)``, a long value that Spark's hash
    partitioning (pmod(murmur3, n), the same function as F.hash) sends to p: each group then
    gets a partition of its own instead of sharing one by hash collision. (Only the balance
    depends on this: rows of one group always share a partition.)"""
    found = (
        spark.range(0, 64 * n)
        .select("id", F.pmod(F.hash("id"), F.lit(n)).alias("p"))
        .groupBy("p")
        .agg(F.min("id").alias("id"))
        .collect()
    )
    by_partition = {row["p"]: row["id"] for row in found}
    return [by_partition.get(p, p) for p in range(n)]


def verify(
    candidates: DataFrame, features: DataFrame, corpus: Broadcast[CorpusTerms], options: PipelineOptions
) -> DataFrame:
    """Verified edges. Pairs are split into groups by a hash of doc_a; a group's documents are
    shuffled once to its partition (each document at most once per group, never once per pair),
    sorted ahead of its pairs, and one Verifier per group scores all of its pairs."""
    spark = candidates.sparkSession
    n = verify_groups(spark)

    def group_of(column: str) -> Column:
        return F.pmod(F.xxhash64(column), F.lit(n)).cast("long")

    pairs = candidates.select(
        group_of("doc_a").alias("group"),
        F.lit(_PAIR_ROW).alias("kind"),
        F.col("doc_a").alias("doc_id"),
        "doc_b",
        "views",
    )
    # Each group needs its first documents (by the same hash) and the second documents of its pairs.
    needed = (
        pairs.select("doc_b", "group")
        .withColumnRenamed("doc_b", "doc_id")
        .unionByName(features.select("doc_id", group_of("doc_id").alias("group")))
        .distinct()
    )
    documents = features.select("doc_id", "published", "text", "body_content", "title_content").join(
        needed, "doc_id"
    )
    documents = documents.withColumn("kind", F.lit(_DOC_ROW))
    rows = pairs.unionByName(documents, allowMissingColumns=True).select(*_VERIFY_COLUMNS)
    routes = F.array(*[F.lit(r).cast("long") for r in _routes(spark, n)])
    routed = rows.withColumn("route", F.element_at(routes, F.col("group").cast("int") + 1))
    ordered = routed.repartition(n, "route").sortWithinPartitions("group", "kind").drop("route")
    return ordered.mapInArrow(
        partial(_verify_partition, corpus=corpus, options=options), spark_schema(_EDGES)
    )


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
    corpus: Broadcast[CorpusTerms],
    options: PipelineOptions,
    policy: str,
) -> pa.Table:
    """The local engine's cluster and canonicalise steps over whole components; returns each
    output table's slice as Arrow IPC bytes."""
    docs_table = docs_table.sort_by("doc_id")
    docs = [
        Document(**{k: row[k] for k in _DOCUMENT_FIELDS})
        for row in docs_table.select(_DOCUMENT_FIELDS).to_pylist()
    ]
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
    # The content words computed in the fingerprint stage, not tokenised again.
    content, titles = _words(docs_table.column("body_content")), _words(docs_table.column("title_content"))
    verifier = _Rebased(primed_verifier(content, titles, [d.published for d in docs], corpus.value, options))
    stories = cluster_stories(
        len(docs),
        [(e.a, e.b) for e in edges],
        options.threshold,
        options.cohesion_ratio,
        verifier.similarity_matrix,
        similarities=np.array([e.similarity for e in edges], dtype=np.float64),
        similarity_matrices=verifier.similarity_matrices,
    )
    texts = [d.text for d in docs]
    grouping = Grouping(edges, stories, len(edges), verifier, corpus.value.weights, _TokensOf(texts))  # type: ignore[arg-type]
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
    features: DataFrame,
    edges: DataFrame,
    components: DataFrame,
    n_documents: int,
    corpus: Broadcast[CorpusTerms],
    options: PipelineOptions,
    policy: str,
) -> DataFrame:
    """(table, payload) rows: every group of components' slice of the four story tables
    (cogrouped ``applyInArrow``: documents and edges of the same components meet)."""
    spark = features.sparkSession
    n_groups = max(spark.sparkContext.defaultParallelism, math.ceil(n_documents / DOCS_PER_GROUP))
    group = F.pmod(F.xxhash64("component"), F.lit(n_groups)).alias("group")
    columns = [*_DOCUMENT_FIELDS, "body_content", "title_content"]
    docs_grouped = features.join(components, "doc_id", "left").select(
        *columns, F.coalesce("component", "doc_id").alias("component")
    )
    docs_grouped = docs_grouped.select(*columns, group)
    # doc_b > doc_a is never its component's smallest doc_id, so it always has a component.
    edges_grouped = edges.join(components.withColumnRenamed("doc_id", "doc_b"), "doc_b").select(
        *_EDGES.names, group
    )
    return (
        docs_grouped.groupBy("group")
        .cogroup(edges_grouped.groupBy("group"))
        .applyInArrow(
            partial(_story_tables, corpus=corpus, options=options, policy=policy), spark_schema(_PARTS)
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
    inside its timer so the timings say where the time goes. What a later stage no longer
    reads is unpersisted as soon as its successor is materialised."""
    timer = StageTimer()
    keep = StorageLevel.MEMORY_AND_DISK
    with timer("ingest"):
        files, n_files = list_inputs(spark, inputs)
        records, read_rejects, read = ingest(files)
        records = records.persist(keep)
        input_records = read.count()
    with timer("extract"):
        docs, extract_rejects, extracted = extract(records, options)
        docs = docs.persist(keep)
        n_documents = docs.count()
        rejects = read_rejects.unionByName(extract_rejects).persist(keep)
        rejects.count()
        for frame in (files, read, records, extracted):
            frame.unpersist()
    with timer("fingerprint"):
        features = docs.mapInArrow(_feature_batches, spark_schema(_FEATURES)).persist(keep)
        features.count()
        docs.unpersist()
        corpus = spark.sparkContext.broadcast(term_statistics(features, n_documents))
        signatures = features.select("doc_id", "text", "body_content", "title_content").mapInArrow(
            partial(_signature_batches, corpus=corpus, options=options), spark_schema(_SIGNATURES)
        )
        signatures = signatures.persist(keep)
        signatures.count()
    with timer("candidates"):
        candidates = candidate_pairs(signatures, options, n_documents).persist(keep)
        n_candidates = candidates.count()
        signatures.unpersist()
    with timer("verify"):
        edges = verify(candidates, features, corpus, options).persist(keep)
        n_verified = edges.count()
        candidates.unpersist()
    with timer("cluster"):
        components = connected_components(edges).persist(keep)
        components.count()
    with timer("canonicalise"):
        parts = story_parts(features, edges, components, n_documents, corpus, options, policy).persist(keep)
        parts.count()
        for frame in (features, edges, components):
            frame.unpersist()
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
