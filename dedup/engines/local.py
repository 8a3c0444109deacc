"""The local engine: runs every stage on this machine, per-document stages on all cores.

It only orchestrates; each stage lives in its own module:
ingest -> extract -> fingerprint -> candidates -> verify -> cluster -> canonicalise -> (write).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pyarrow as pa

from dedup.candidates import CandidatePairs, find_candidates, find_sorted
from dedup.canonical import canonicalise_story, single_version_story
from dedup.cluster import cluster_stories
from dedup.config import PipelineOptions
from dedup.extract import extract_document, load_html_extractor
from dedup.fingerprint import (
    SHINGLE_WORDS,
    EncodedChunk,
    EncodedCorpus,
    EncodedTokens,
    encode_documents,
    merge_encoded,
    minhash_signatures,
    set_jaccard,
    view_feature_sets,
)
from dedup.ingest import InputFile, discover_inputs, read_input
from dedup.languages import function_words
from dedup.paraphrase import NONE, encoder
from dedup.processes import fork_pool
from dedup.progress import progress
from dedup.records import Document, PairEdge, Reject, SourceRecord, Story
from dedup.store import DocumentStore, document_heads
from dedup.text import word_ngrams
from dedup.verify import ENGINE_VECTOR_DTYPE, Verifier, shingle_jaccards
from dedup.weights import TermWeights, background_table

# Language of the term weights' background frequencies (TermWeights' default).
BACKGROUND_LANGUAGE = "en"

log = logging.getLogger("dedup")

# Below this many items (or, for canonicalisation, this much work) a process pool costs more
# than it saves.
MIN_ITEMS_FOR_POOL = 64
# One task's worth (TASK_WORK): 1,170 web pages whose stories add up to 1,307 took 1.6 s
# canonicalised in one process, on one core.
MIN_WORK_FOR_POOL = 256
# Records per extraction task: a page costs 10-100 ms and a few cost seconds, so small tasks
# keep both workers busy to the end (larger ones left one worker alone on a slow run of pages).
EXTRACT_CHUNK = 4
# A plain-text record costs about 0.3 ms: in tasks of 4 the parent's share (sending records,
# receiving documents, one future each) was as large as the work itself.
EXTRACT_TEXT_CHUNK = 64
# Records read ahead of extraction, at most this many and this many characters: what bounds
# ingest's memory, whatever the corpus size. The character bound also keeps the first batch of
# web pages (150 kB each) small: the workers wait for it, and reading and decoding all 1,171
# pages of the HTML benchmark first took 0.4 s with both cores idle.
EXTRACT_BATCH = 4096
EXTRACT_BATCH_CHARS = 16 << 20


def pool_workers(options: PipelineOptions) -> int:
    return options.workers or os.cpu_count() or 1


def parallel_map(
    fn: Callable,
    items: Sequence,
    workers: int,
    label: str,
    chunksize: int = 16,
    min_items: int = MIN_ITEMS_FOR_POOL,
) -> Iterator:
    """``fn`` over ``items``, each result yielded in order as it comes (so a caller can fold
    results in and drop them), on ``workers`` processes when there are enough items.

    Workers are forked when the results are first asked for, so ``fn`` may read state the
    parent set up before that (see ``canonicalise``) instead of pickling it with every task.
    """
    if workers > 1 and len(items) >= max(min_items, 2):
        with fork_pool(workers) as pool:
            yield from progress(pool.map(fn, items, chunksize=chunksize), len(items), label)
        return
    yield from progress(map(fn, items), len(items), label)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to trim
        return None


_MALLOC_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    """Give the C heap's free pages back to the system. Folding in many workers' results
    leaves the heap fragmented (at 100k articles, 570 MB freed but still held after
    fingerprinting), and the next stage's large arrays would be mapped on top of it."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class StageTimer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - started


# Documents per task of the fingerprint workers (tokenising, then signatures): small enough for
# an even split over the workers, large enough that per-task costs stay small.
FINGERPRINT_CHUNK = 512
# Fewer documents are cut into this many even tasks: 1,170 web pages as 512 + 512 + 146 left
# one of two workers a third more to tokenise than the other.
FINGERPRINT_MIN_SPANS = 4
# Signatures cost about 0.1 ms a document: below this many, a pool costs more than it saves
# (1,170 web pages: 0.12-0.13 s in one process, 0.15-0.16 s on two).
MIN_DOCUMENTS_TO_SIGN_IN_POOL = 2048
# Set for the fingerprint workers before they fork (parallel_map): read there, never pickled.
_FORKED_DOCS: Sequence[Document] | None = None
_FORKED_SIGNING: tuple[DocumentFeatures, TermWeights, PipelineOptions] | None = None


@dataclass
class DocumentFeatures:
    """What every grouping stage reads of a document: all tokens (shingles, verified pairs'
    signals, relation labels), content words (weights, keywords, vectors) and title content
    words, each any sequence of word lists; when tokenised here, the ids behind them."""

    tokens: Sequence[Sequence[str]]
    content: Sequence[Sequence[str]]
    titles: Sequence[Sequence[str]]
    encoded: EncodedCorpus | None = None

    @classmethod
    def of(
        cls, docs: Sequence[Document], workers: int = 1, language: str | None = BACKGROUND_LANGUAGE
    ) -> DocumentFeatures:
        """Features of ``docs`` on ``workers`` processes. ``language``: that of the background
        frequencies ``weights`` reads; None when the caller weighs terms its own way (they
        are then not computed)."""
        # Workers read the documents forked and send back word ids; the parent merges each
        # chunk as it comes, weighing the words new to the vocabulary while the workers go on.
        # Tokens and content words stay ids (4 bytes a word): weights and the verifier read
        # the ids, and what needs words (keywords, shingles, relation labels) reads them a
        # document at a time.
        global _FORKED_DOCS
        spans = _spans(len(docs))
        _FORKED_DOCS = docs
        try:
            # Each chunk is merged as it arrives: the chunks' vocabularies are never all held.
            chunks = parallel_map(
                _encode_in_worker,
                spans,
                workers,
                "tokenise",
                chunksize=1,
                min_items=_min_spans(docs, spans),
            )
            encoded = merge_encoded(chunks, language)
        finally:
            _FORKED_DOCS = None
        return cls(encoded.tokens, encoded.content, encoded.titles, encoded)

    def weights(self) -> TermWeights:
        if self.encoded is None or self.encoded.language != BACKGROUND_LANGUAGE:
            return TermWeights.fit(self.content, language=BACKGROUND_LANGUAGE)
        return self.encoded.weights(language=BACKGROUND_LANGUAGE)

    def signatures(
        self, weights: TermWeights, options: PipelineOptions, workers: int = 1
    ) -> dict[str, np.ndarray]:
        """MinHash signatures of every view, on ``workers`` forked processes (rows are independent,
        so any split gives the same rows)."""
        global _FORKED_SIGNING
        spans = _spans(len(self.content))
        _FORKED_SIGNING = (self, weights, options)
        try:
            min_items = _min_spans(self.content, spans, MIN_DOCUMENTS_TO_SIGN_IN_POOL)
            parts = list(
                parallel_map(_sign_in_worker, spans, workers, "signatures", chunksize=1, min_items=min_items)
            )
        finally:
            _FORKED_SIGNING = None
        return {view.name: np.concatenate([part[view.name] for part in parts]) for view in options.views}

    def verifier(
        self, docs: Sequence[Document], weights: TermWeights, options: PipelineOptions, workers: int = 1
    ) -> Verifier:
        """The batch's verifier, its vectors built a block at a time on ``workers`` forked
        processes (blocks are independent: the same vectors whatever the split)."""
        published = [d.published for d in document_heads(docs)]
        return Verifier(
            self.content,
            self.titles,
            published,
            weights,
            options,
            ENGINE_VECTOR_DTYPE,
            partial(parallel_blocks, workers=workers),
        )


# Set for the vector workers before they fork (parallel_blocks): read there, never pickled.
_FORKED_BLOCK: Callable[[int], object] | None = None


def parallel_blocks(block: Callable[[int], object], n_blocks: int, workers: int) -> Iterator:
    """``block(k)`` for each k in range(n_blocks), in order, on ``workers`` forked processes."""
    global _FORKED_BLOCK
    _FORKED_BLOCK = block
    try:
        yield from parallel_map(
            _block_in_worker, range(n_blocks), workers, "vectors", chunksize=1, min_items=2
        )
    finally:
        _FORKED_BLOCK = None


def _block_in_worker(k: int) -> object:
    assert _FORKED_BLOCK is not None
    return _FORKED_BLOCK(k)


def _spans(n: int) -> list[tuple[int, int]]:
    """``range(n)`` cut into (start, stop) spans of FINGERPRINT_CHUNK documents, or into
    FINGERPRINT_MIN_SPANS even spans when that makes them shorter; one empty span for n = 0.
    A function of n alone: the vocabulary's order, hence every output, never depends on the
    number of workers."""
    size = max(1, min(FINGERPRINT_CHUNK, -(-n // FINGERPRINT_MIN_SPANS)))
    return [(s, min(s + size, n)) for s in range(0, n, size)] or [(0, 0)]


def _min_spans(docs: Sequence, spans: Sequence, min_documents: int = MIN_ITEMS_FOR_POOL) -> int:
    """parallel_map's ``min_items`` for spans: a pool once there are ``min_documents``."""
    return 2 if len(docs) >= min_documents else len(spans) + 1


def _encode_in_worker(span: tuple[int, int]) -> EncodedChunk:
    assert _FORKED_DOCS is not None
    docs = _FORKED_DOCS[span[0] : span[1]]
    return encode_documents((d.text, d.title or "") for d in docs)


def _rows(lists: Sequence[Sequence[str]], start: int, stop: int) -> Sequence[Sequence[str]]:
    """Documents ``start`` to ``stop - 1`` of ``lists``; still as ids when they are ids (the
    keyword view ranks ids, and spells only the words it keeps)."""
    return lists.rows(start, stop) if isinstance(lists, EncodedTokens) else lists[start:stop]


def _sign_in_worker(span: tuple[int, int]) -> dict[str, np.ndarray]:
    assert _FORKED_SIGNING is not None
    features, weights, options = _FORKED_SIGNING
    a, b = span
    return {
        view.name: minhash_signatures(
            view_feature_sets(
                view,
                features.tokens[a:b] if view.kind == "shingles" else (),
                _rows(features.content, a, b),
                _rows(features.titles, a, b),
                weights,
            ),
            options.minhash,
        )
        for view in options.views
    }


@dataclass
class Grouping:
    """The stories of a batch and what decided them; the scoring parts (verifier, weights,
    tokens) serve canonicalisation, and are let go once it is done (``scoring_released``)."""

    edges: list[PairEdge]
    stories: list[list[int]]
    n_candidates: int
    verifier: Verifier | None
    weights: TermWeights | None
    tokens: Sequence[Sequence[str]]

    def scoring_released(self) -> Grouping:
        """The same edges, stories and count without the scoring parts: the verifier's
        vectors alone take GiBs at a million articles, and writing reads none of them."""
        return Grouping(self.edges, self.stories, self.n_candidates, None, None, ())


@dataclass
class PipelineResult:
    documents: Sequence[Document]
    rejects: list[Reject]
    stories: list[Story]
    grouping: Grouping
    input_files: int
    input_records: int
    timings: dict[str, float] = field(default_factory=dict)


def read_records(files: Sequence[InputFile], rejects: list[Reject]) -> Iterator[SourceRecord]:
    """Every record of ``files``, streamed in a deterministic order; what cannot be read, and
    records whose id was already read, go to ``rejects``."""
    seen: dict[str, str] = {}
    for item in progress(files, len(files), "read"):
        for out in read_input(item):
            if isinstance(out, Reject):
                rejects.append(out)
            elif out.doc_id in seen:
                rejects.append(
                    Reject(
                        out.source_path, "duplicate_id", f"already read from {seen[out.doc_id]}", out.doc_id
                    )
                )
            else:
                seen[out.doc_id] = out.source_path
                yield out


def ingest(inputs: Sequence[str]) -> tuple[int, list[SourceRecord], list[Reject]]:
    """All records of all inputs, in a deterministic order; duplicate ids are rejected."""
    files = discover_inputs(list(inputs))
    rejects: list[Reject] = []
    records = list(read_records(files, rejects))
    return len(files), records, rejects


def read_batches(records: Iterable[SourceRecord]) -> Iterator[tuple[list[SourceRecord], bool]]:
    """``records`` in consecutive batches of at most EXTRACT_BATCH records and, unless one record
    is longer, EXTRACT_BATCH_CHARS characters of content (bytes, for a page not yet decoded);
    each with whether it reached a bound (more records may follow)."""
    batch: list[SourceRecord] = []
    chars = 0
    for record in records:
        size = len(record.content)
        if batch and chars + size > EXTRACT_BATCH_CHARS:
            yield batch, True
            batch, chars = [], 0
        batch.append(record)
        chars += size
        if len(batch) == EXTRACT_BATCH:
            yield batch, True
            batch, chars = [], 0
    if batch:
        yield batch, False


def extracted(
    records: Iterable[SourceRecord],
    options: PipelineOptions,
    meanwhile: Callable[[], object] | None = None,
) -> Iterator[Document | Reject]:
    """Each record's document (or reject), in order, on ``pool_workers`` processes.

    Records are taken a batch at a time (``read_batches``), and the next batch is read while
    the workers extract this one: only two batches of records are ever in memory.
    ``meanwhile`` is called once, when the workers have their first two batches (or all there
    is): what the next stages need loaded is loaded there rather than after extraction, while
    the cores would wait. With only the first batch queued, the workers finished it (115 web
    pages) before the parent was done loading and could read the next."""
    work = partial(extract_document, min_words=options.min_words)
    workers = pool_workers(options)
    pool: ProcessPoolExecutor | None = None
    running: Iterator[Document | Reject] = iter(())
    try:
        for n_batches, (batch, full) in enumerate(read_batches(records), start=1):
            pages = any(r.content_type == "html" for r in batch)
            if pages:
                load_html_extractor()  # before the workers fork: imported once, shared
            if pool is None and workers > 1 and (full or len(batch) >= MIN_ITEMS_FOR_POOL):
                pool = fork_pool(workers)
            # Executor.map submits the whole batch at once and yields results in order.
            chunk = EXTRACT_CHUNK if pages else EXTRACT_TEXT_CHUNK
            submitted = pool.map(work, batch, chunksize=chunk) if pool else map(work, batch)
            if meanwhile is not None and (n_batches == 2 or not full):
                meanwhile()
                meanwhile = None
            yield from running
            running = submitted
        if meanwhile is not None:  # no records
            meanwhile()
        yield from running
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


def extract(records: Sequence[SourceRecord], options: PipelineOptions) -> tuple[list[Document], list[Reject]]:
    results = list(progress(extracted(records, options), len(records), "extract"))
    docs = [r for r in results if isinstance(r, Document)]
    rejects = [r for r in results if isinstance(r, Reject)]
    return docs, rejects


def ingest_to_store(
    inputs: Sequence[str], options: PipelineOptions, meanwhile: Callable[[], object] | None = None
) -> tuple[int, DocumentStore, list[Reject]]:
    """Read and extract every input into a store (texts on disk, in doc_id order): records
    stream through extraction, so neither they nor the texts are ever all in memory.
    ``meanwhile``: see ``extracted``."""
    files = discover_inputs(list(inputs))
    rejects: list[Reject] = []
    store = DocumentStore()
    try:
        for out in progress(extracted(read_records(files, rejects), options, meanwhile), None, "extract"):
            if isinstance(out, Document):
                store.append(out)
            else:
                rejects.append(out)
    except BaseException:
        store.close()
        raise
    return len(files), store.seal(), rejects


def group_documents(
    docs: Sequence[Document],
    options: PipelineOptions,
    timer: StageTimer | None = None,
    exhaustive: bool = False,
) -> Grouping:
    """fingerprint -> candidates -> verify -> cluster over one batch of documents.

    ``exhaustive`` verifies every pair instead of LSH candidates: only for measuring what
    LSH misses (candidate recall), never for real runs.
    """
    timer = timer or StageTimer()
    with timer("fingerprint"):
        features = DocumentFeatures.of(docs, pool_workers(options))
        release_freed_memory()
        weights = features.weights()
        features.encoded = None  # its background frequencies: weighed, never read again
        signatures = features.signatures(weights, options, pool_workers(options))
    with timer("candidates"):
        if exhaustive:
            every_pair = np.stack(np.triu_indices(len(docs), 1), axis=1)
            candidates = CandidatePairs.from_pairs(len(docs), every_pair, ("exhaustive",))
        else:
            # Arrays, not a dict of tuples: ~230 bytes a pair less (millions of pairs at 1M).
            candidates = find_candidates(signatures, options.views, options.minhash)
        del signatures
        release_freed_memory()
    with timer("verify"):
        verifier = features.verifier(docs, weights, options, pool_workers(options))
        tokens = features.tokens
        del features  # their content and title ids: only the verifier's build reads them
        workers = pool_workers(options)
        edges = verifier.verify(
            candidates, tokens, partial(parallel_shingle_jaccards, tokens, workers=workers)
        )
        n_candidates = len(candidates)
        del candidates
        release_freed_memory()
    with timer("cluster"):
        stories = cluster_stories(
            len(docs),
            [(e.a, e.b) for e in edges],
            options.threshold,
            options.cohesion_ratio,
            verifier.similarity_matrix,
            similarities=np.array([e.similarity for e in edges], dtype=np.float64),
            similarity_matrices=verifier.similarity_matrices,
        )
    return Grouping(edges, stories, n_candidates, verifier, weights, tokens)


_FORKED_TOKENS: Sequence[Sequence[str]] | None = None
# Below this many verified pairs, their 5-gram Jaccards are computed in this process.
MIN_PAIRS_FOR_POOL = 2000


def parallel_shingle_jaccards(tokens: Sequence[Sequence[str]], pairs: np.ndarray, workers: int) -> np.ndarray:
    """``shingle_jaccards`` of ``pairs``, runs of consecutive pairs on ``workers`` forked
    processes (each pair's value is exact, whichever run it is computed in): at 100k articles
    they are most of verification's time, on one core."""
    global _FORKED_TOKENS
    runs = workers * 2 if workers > 1 and len(pairs) >= MIN_PAIRS_FOR_POOL else 1
    chunks = np.array_split(pairs, runs)
    _FORKED_TOKENS = tokens
    try:
        parts = list(parallel_map(_jaccards_in_worker, chunks, workers, "shingles", chunksize=1, min_items=2))
    finally:
        _FORKED_TOKENS = None
    return np.concatenate(parts)


def _jaccards_in_worker(pairs: np.ndarray) -> np.ndarray:
    assert _FORKED_TOKENS is not None
    return shingle_jaccards(_FORKED_TOKENS, pairs)


@dataclass
class _StoryContext:
    """What canonicalising any story of a batch reads; forked into the workers, not pickled."""

    docs: Sequence[Document]
    grouping: Grouping
    options: PipelineOptions
    policy: str
    # The verified pairs' codes (low * n + high, ascending) and, beside each, its edge: most
    # members of a story are verified with its canonical, and their score is already known.
    _edge_codes: np.ndarray = field(init=False, repr=False)
    _edge_of_code: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        pairs = np.array([(e.a, e.b) for e in self.grouping.edges], dtype=np.int64).reshape(-1, 2)
        codes = pairs.min(axis=1) * len(self.docs) + pairs.max(axis=1)
        self._edge_of_code = np.argsort(codes, kind="stable")
        self._edge_codes = codes[self._edge_of_code]

    def _verified_edges(self, c: int, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each pair (c, other) as (lower index, higher index), and its edge (-1: not verified)."""
        pairs = np.stack([np.minimum(others, c), np.maximum(others, c)], axis=1)
        codes = pairs[:, 0] * len(self.docs) + pairs[:, 1]
        return pairs, find_sorted(self._edge_codes, self._edge_of_code, codes)

    def similarity_to(self, c: int, others: Sequence[int]) -> np.ndarray:
        """The verifier similarity of c with each of ``others``, always scored as the pair
        (lower index, higher index), as verification scores it: a value does not depend on
        which document became the canonical."""
        pairs, edge = self._verified_edges(c, np.asarray(others, dtype=np.int64))
        found = edge >= 0
        out = np.empty(len(others), dtype=np.float64)
        out[found] = [self.grouping.edges[e].similarity for e in edge[found].tolist()]
        if not found.all():
            out[~found] = self.grouping.verifier.similarity(pairs[~found])
        return out

    def relations_to(self, c: int, others: Sequence[int]) -> list[str]:
        """How each of ``others`` relates to c: an exact copy (equal up to whitespace and case),
        a near copy (word 5-gram Jaccard of at least near_copy_jaccard), or a rewrite."""
        # A verified pair's 5-gram Jaccard is known (the same value, ``shingle_jaccards``):
        # only the other members' shingles are built.
        _, edge = self._verified_edges(c, np.asarray(others, dtype=np.int64))
        edges, tokens = self.grouping.edges, self.grouping.tokens
        canonical_shingles: set[str] | None = None
        canonical_text: str | None = None
        relations = []
        for o, e in zip(others, edge.tolist(), strict=True):
            if e >= 0:
                jaccard = edges[e].shingle_jaccard
            else:
                if canonical_shingles is None:
                    canonical_shingles = word_ngrams(list(tokens[c]), SHINGLE_WORDS)
                jaccard = set_jaccard(canonical_shingles, word_ngrams(list(tokens[o]), SHINGLE_WORDS))
            # An exact copy has the canonical's tokens, hence all its 5-grams: only then are
            # the two texts read and compared.
            if jaccard == 1.0:
                canonical_text = canonical_text or " ".join(self.docs[c].text.lower().split())
                if canonical_text == " ".join(self.docs[o].text.lower().split()):
                    relations.append("exact")
                    continue
            relations.append("near_copy" if jaccard >= self.options.near_copy_jaccard else "rewrite")
        return relations

    def story(self, members: Sequence[int]) -> Story:
        return canonicalise_story(
            members,
            self.docs,
            self.grouping.weights,
            self.similarity_to,
            self.relations_to,
            self.options,
            self.policy,
        )


_FORKED_CONTEXT: _StoryContext | None = None
# Tasks are packed up to this much work (``story_work``) so a worker's queue stays balanced,
# and IPC is paid per batch of small stories rather than per story.
TASK_WORK = 256
# ...and, in a small run, to this fraction of a worker's share of the work. The square is a
# rough cost: a story whose sentences go through the paraphrase model costs 10-40 times
# another of its size, and the web pages' 98 stories, packed as 3 tasks, gave one task 1.6 s
# of the 2.4 s (wall time 1.9-2.2 s on two workers, against 1.0 s simulated in 18 tasks).
TASKS_PER_WORKER = 8


def _canonicalise_in_worker(batch: Sequence[Sequence[int]]) -> list[Story]:
    assert _FORKED_CONTEXT is not None
    return [_FORKED_CONTEXT.story(members) for members in batch]


def story_work(members: Sequence[int]) -> int:
    """Canonicalising a story is about the square of its documents' work: every version is
    aligned with the others."""
    return len(members) ** 2


def work_batches(stories: Sequence[Sequence[int]], order: Sequence[int], workers: int = 1) -> list[list[int]]:
    """Consecutive runs of ``order`` (positions in ``stories``) of about ``TASK_WORK`` work
    each, or less when that gives each of ``workers`` fewer than TASKS_PER_WORKER tasks."""
    total = sum(story_work(stories[i]) for i in order)
    task_work = min(TASK_WORK, max(1, total // (TASKS_PER_WORKER * workers)))
    batches: list[list[int]] = []
    work = task_work
    for i in order:
        cost = story_work(stories[i])
        if work + cost > task_work:
            batches.append([])
            work = 0
        batches[-1].append(i)
        work += cost
    return batches


def canonicalise(
    docs: Sequence[Document],
    grouping: Grouping,
    options: PipelineOptions,
    policy: str = "coverage",
    workers: int = 1,
) -> list[Story]:
    """Every story of the grouping, in order (``canonicalise_versions``, then the stories of
    one version)."""
    stories = canonicalise_versions(docs, grouping, options, policy, workers)
    return with_single_version_stories(stories, grouping.stories, docs)


def canonicalise_versions(
    docs: Sequence[Document],
    grouping: Grouping,
    options: PipelineOptions,
    policy: str = "coverage",
    workers: int = 1,
) -> list[Story | None]:
    """Every story of the grouping with several versions, in order, and None in the place of
    each story of one version. They go to ``workers`` processes, largest first so no worker is
    left with a giant story at the end while the others idle."""
    global _FORKED_CONTEXT
    stories = grouping.stories
    context = _StoryContext(docs, grouping, options, policy)
    results: list[Story | None] = [None] * len(stories)
    multi = sorted((i for i, s in enumerate(stories) if len(s) > 1), key=lambda i: (-len(stories[i]), i))
    batches = work_batches(stories, multi, workers)
    enough_work = sum(story_work(stories[i]) for i in multi) >= MIN_WORK_FOR_POOL
    if multi and enough_work and workers > 1 and options.paraphrase_model != NONE:
        encoder(options.paraphrase_model)  # loaded once here; forked workers share it
    _FORKED_CONTEXT = context
    try:
        done = list(
            parallel_map(
                _canonicalise_in_worker,
                [[stories[i] for i in b] for b in batches],
                workers,
                "canonicalise",
                chunksize=1,
                min_items=2 if enough_work else len(batches) + 1,
            )
        )
    finally:
        _FORKED_CONTEXT = None
    for batch, batch_stories in zip(batches, done, strict=True):
        for i, story in zip(batch, batch_stories, strict=True):
            results[i] = story
    return results


def with_single_version_stories(
    stories: list[Story | None], members: Sequence[Sequence[int]], docs: Sequence[Document]
) -> list[Story]:
    """``stories`` with each None replaced by the story of its one version (``members``: each
    story's documents). Nothing of the grouping's scoring is read, so a caller can let that go
    first: at 1M articles these are 800k stories, about 300 MB."""
    heads = document_heads(docs)  # a single version's story needs its doc_id, not its text
    for i, story_members in enumerate(members):
        if stories[i] is None:
            stories[i] = single_version_story(story_members[0], heads[story_members[0]].doc_id)
    return stories  # type: ignore[return-value]


# Modules only later stages use, imported by them when first needed: the engine imports them
# while the workers extract (0.3 s at the start of every run, with one core idle, otherwise).
LATER_STAGE_MODULES = ("datasketch", "scipy.cluster.hierarchy", "scipy.spatial.distance")


def load_later_stages(options: PipelineOptions) -> None:
    """What later stages need loaded, loaded while the workers extract: the term weights'
    background frequencies (0.3 s; fingerprinting reads them as it merges the chunks),
    LATER_STAGE_MODULES, pyarrow's conversions and, with several workers, the paraphrase
    model (0.3-0.4 s on one core: canonicalisation would load it while the others wait).
    With several workers, also the function words of other languages (0.4 s): each tokenising
    worker that meets a document that is not plainly English would load them again."""
    background_table(BACKGROUND_LANGUAGE)
    if pool_workers(options) > 1:
        function_words()
    for module in LATER_STAGE_MODULES:
        importlib.import_module(module)
    # pyarrow's first conversion of Python objects looks for pandas types, importing pandas
    # where it is installed (0.3 s): the output tables would pay it with one core idle.
    pa.array([], pa.string())
    if options.paraphrase_model != NONE and pool_workers(options) > 1:
        encoder(options.paraphrase_model)


def run_pipeline(inputs: Sequence[str], options: PipelineOptions, policy: str = "coverage") -> PipelineResult:
    timer = StageTimer()
    with timer("extract"):  # reading the inputs included: the two are streamed together
        preload = partial(load_later_stages, options)
        n_files, docs, rejects = ingest_to_store(inputs, options, meanwhile=preload)
    input_records = len(docs) + len(rejects)
    log.info("extract: %d files, %d documents, %d rejects", n_files, len(docs), len(rejects))
    grouping = group_documents(docs, options, timer)
    log.info(
        "group: %d candidate pairs, %d verified, %d stories",
        grouping.n_candidates,
        len(grouping.edges),
        len(grouping.stories),
    )
    with timer("canonicalise"):
        versions = canonicalise_versions(docs, grouping, options, policy, pool_workers(options))
        # The scoring parts go before the single-version stories are made: at 1M articles the
        # run's peak memory was the two together, at the end of canonicalisation.
        grouping = grouping.scoring_released()
        release_freed_memory()
        stories = with_single_version_stories(versions, grouping.stories, docs)
    return PipelineResult(
        documents=docs,
        rejects=rejects,
        stories=stories,
        grouping=grouping,
        input_files=n_files,
        input_records=input_records,
        timings=timer.seconds,
    )
