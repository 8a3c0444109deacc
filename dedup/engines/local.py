"""The local engine: runs every stage on this machine, per-document stages on all cores.

It only orchestrates; each stage lives in its own module:
ingest -> extract -> fingerprint -> candidates -> verify -> cluster -> canonicalise -> (write).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from dedup.candidates import candidate_pairs
from dedup.canonical import canonicalise_story
from dedup.cluster import cluster_stories
from dedup.config import PipelineOptions
from dedup.extract import extract_document
from dedup.fingerprint import SHINGLE_WORDS, minhash_signatures, set_jaccard, view_features
from dedup.ingest import discover_inputs, read_input
from dedup.paraphrase import NONE, encoder
from dedup.progress import progress
from dedup.records import Document, PairEdge, Reject, SourceRecord, Story
from dedup.text import content_tokens, tokens, word_ngrams
from dedup.verify import Verifier
from dedup.weights import TermWeights

log = logging.getLogger("dedup")

# Below this many items (or, for canonicalisation, this much work) a process pool costs more
# than it saves.
MIN_ITEMS_FOR_POOL = 64
MIN_WORK_FOR_POOL = 2000


def pool_workers(options: PipelineOptions) -> int:
    return options.workers or os.cpu_count() or 1


def parallel_map(
    fn: Callable,
    items: Sequence,
    workers: int,
    label: str,
    chunksize: int = 16,
    min_items: int = MIN_ITEMS_FOR_POOL,
) -> list:
    """``fn`` over ``items`` in order, on ``workers`` processes when there are enough items.

    Workers are forked, so ``fn`` may read state the parent set up before the call (see
    ``canonicalise``) instead of pickling it with every task.
    """
    if workers > 1 and len(items) >= max(min_items, 2):
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return list(progress(pool.map(fn, items, chunksize=chunksize), len(items), label))
    return list(progress(map(fn, items), len(items), label))


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


class TokensOnDemand(Sequence[list[str]]):
    """Every token of each document, tokenised when asked. Only shingle views and the signals of
    verified pairs read all tokens; holding them for every document would cost ~40 KB each."""

    def __init__(self, docs: Sequence[Document]) -> None:
        self.docs = docs

    def __len__(self) -> int:
        return len(self.docs)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [tokens(d.text) for d in self.docs[i]]
        return tokens(self.docs[i].text)


@dataclass
class DocumentFeatures:
    """What every grouping stage reads of a document: all tokens (shingles; a list, or computed
    on demand), content words (weights, keywords, vectors) and title content words."""

    tokens: Sequence[Sequence[str]]
    content: list[list[str]]
    titles: list[list[str]]

    @classmethod
    def of(cls, docs: Sequence[Document], workers: int = 1) -> DocumentFeatures:
        texts = [(d.text, d.title or "") for d in docs]
        rows = parallel_map(_content_of, texts, workers, "tokenise", chunksize=64)
        # One string object per distinct word: a million documents' word lists then cost their
        # pointers (~3 KB a document), not a copy of every word each time it occurs.
        intern = sys.intern
        content = [list(map(intern, body.split())) for body, _ in rows]
        titles = [list(map(intern, title.split())) for _, title in rows]
        return cls(TokensOnDemand(docs), content, titles)

    def signatures(self, weights: TermWeights, options: PipelineOptions) -> dict[str, np.ndarray]:
        return {
            view.name: minhash_signatures(
                [
                    view_features(
                        view, self.tokens[i] if view.kind == "shingles" else (), content, title, weights
                    )
                    for i, (content, title) in enumerate(zip(self.content, self.titles, strict=True))
                ],
                options.minhash,
            )
            for view in options.views
        }

    def verifier(self, docs: Sequence[Document], weights: TermWeights, options: PipelineOptions) -> Verifier:
        return Verifier(self.content, self.titles, [d.published for d in docs], weights, options)


def _content_of(text_and_title: tuple[str, str]) -> tuple[str, str]:
    """Content words of body and title, space-joined: one string pickles far faster than a list."""
    return " ".join(content_tokens(text_and_title[0])), " ".join(content_tokens(text_and_title[1]))


@dataclass
class Grouping:
    edges: list[PairEdge]
    stories: list[list[int]]
    n_candidates: int
    verifier: Verifier
    weights: TermWeights
    tokens: Sequence[Sequence[str]]


@dataclass
class PipelineResult:
    documents: list[Document]
    rejects: list[Reject]
    stories: list[Story]
    grouping: Grouping
    input_files: int
    input_records: int
    timings: dict[str, float] = field(default_factory=dict)


def ingest(inputs: Sequence[str]) -> tuple[int, list[SourceRecord], list[Reject]]:
    """All records of all inputs, in a deterministic order; duplicate ids are rejected."""
    files = discover_inputs(list(inputs))
    records: list[SourceRecord] = []
    rejects: list[Reject] = []
    seen: dict[str, str] = {}
    for item in progress(files, len(files), "ingest"):
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
                records.append(out)
    return len(files), records, rejects


def extract(records: Sequence[SourceRecord], options: PipelineOptions) -> tuple[list[Document], list[Reject]]:
    work = partial(extract_document, min_words=options.min_words)
    results = parallel_map(work, records, pool_workers(options), "extract")
    docs = [r for r in results if isinstance(r, Document)]
    rejects = [r for r in results if isinstance(r, Reject)]
    return docs, rejects


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
        weights = TermWeights.fit(features.content)
        signatures = features.signatures(weights, options)
    with timer("candidates"):
        if exhaustive:
            n = len(docs)
            candidates = {(i, j): ("exhaustive",) for i in range(n) for j in range(i + 1, n)}
        else:
            candidates = candidate_pairs(signatures, options.views, options.minhash)
    with timer("verify"):
        verifier = features.verifier(docs, weights, options)
        edges = verifier.verify(candidates, features.tokens)
    with timer("cluster"):
        stories = cluster_stories(
            len(docs),
            [(e.a, e.b) for e in edges],
            options.threshold,
            options.cohesion_ratio,
            verifier.similarity_matrix,
        )
    return Grouping(edges, stories, len(candidates), verifier, weights, features.tokens)


@dataclass
class _StoryContext:
    """What canonicalising any story of a batch reads; forked into the workers, not pickled."""

    docs: Sequence[Document]
    grouping: Grouping
    options: PipelineOptions
    policy: str
    _last_canonical: tuple[int, str, set[str]] | None = field(default=None, init=False, repr=False)

    def similarity_to(self, c: int, others: Sequence[int]) -> np.ndarray:
        return self.grouping.verifier.similarity(
            np.array([(c, o) for o in others], dtype=np.int64).reshape(-1, 2)
        )

    def relation_of(self, c: int, m: int) -> str:
        # Exact copies compare equal up to whitespace and case.
        canonical_text, canonical_shingles = self._canonical_view(c)
        if canonical_text == " ".join(self.docs[m].text.lower().split()):
            return "exact"
        shingles = word_ngrams(list(self.grouping.tokens[m]), SHINGLE_WORDS)
        if set_jaccard(canonical_shingles, shingles) >= self.options.near_copy_jaccard:
            return "near_copy"
        return "rewrite"

    def _canonical_view(self, c: int) -> tuple[str, set[str]]:
        """Document c's case- and space-folded text and its word 5-grams: a story's variants
        are all compared with its canonical, which is read once."""
        if self._last_canonical is None or self._last_canonical[0] != c:
            text = " ".join(self.docs[c].text.lower().split())
            self._last_canonical = (c, text, word_ngrams(list(self.grouping.tokens[c]), SHINGLE_WORDS))
        return self._last_canonical[1], self._last_canonical[2]

    def story(self, members: Sequence[int]) -> Story:
        return canonicalise_story(
            members,
            self.docs,
            self.grouping.weights,
            self.similarity_to,
            self.relation_of,
            self.options,
            self.policy,
        )


_FORKED_CONTEXT: _StoryContext | None = None
# A task's work is about the square of its documents (every version is aligned with the
# others). Tasks are packed up to this much work so a worker's queue stays balanced, and IPC
# is paid per batch of small stories rather than per story.
TASK_WORK = 256


def _canonicalise_in_worker(batch: Sequence[Sequence[int]]) -> list[Story]:
    assert _FORKED_CONTEXT is not None
    return [_FORKED_CONTEXT.story(members) for members in batch]


def work_batches(stories: Sequence[Sequence[int]], order: Sequence[int]) -> list[list[int]]:
    """Consecutive runs of ``order`` (positions in ``stories``) of about ``TASK_WORK`` work each."""
    batches: list[list[int]] = []
    work = TASK_WORK
    for i in order:
        cost = len(stories[i]) ** 2
        if work + cost > TASK_WORK:
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
    """Every story of the grouping, in order. Single-document stories take a fast path here;
    the others go to ``workers`` processes, largest first so no worker is left with a giant
    story at the end while the others idle."""
    global _FORKED_CONTEXT
    stories = grouping.stories
    context = _StoryContext(docs, grouping, options, policy)
    results: list[Story | None] = [None] * len(stories)
    multi = sorted((i for i, s in enumerate(stories) if len(s) > 1), key=lambda i: (-len(stories[i]), i))
    batches = work_batches(stories, multi)
    enough_work = sum(len(stories[i]) ** 2 for i in multi) >= MIN_WORK_FOR_POOL
    if multi and enough_work and workers > 1 and options.paraphrase_model != NONE:
        encoder(options.paraphrase_model)  # loaded once here; forked workers share it
    _FORKED_CONTEXT = context
    try:
        done = parallel_map(
            _canonicalise_in_worker,
            [[stories[i] for i in b] for b in batches],
            workers,
            "canonicalise",
            chunksize=1,
            min_items=2 if enough_work else len(batches) + 1,
        )
    finally:
        _FORKED_CONTEXT = None
    for batch, batch_stories in zip(batches, done, strict=True):
        for i, story in zip(batch, batch_stories, strict=True):
            results[i] = story
    for i, members in enumerate(stories):
        if results[i] is None:
            results[i] = context.story(members)
    return results  # type: ignore[return-value]


def run_pipeline(inputs: Sequence[str], options: PipelineOptions, policy: str = "coverage") -> PipelineResult:
    timer = StageTimer()
    with timer("ingest"):
        n_files, records, rejects = ingest(inputs)
    input_records = len(records) + len(rejects)
    log.info("ingest: %d files, %d records, %d rejects", n_files, len(records), len(rejects))
    with timer("extract"):
        docs, extract_rejects = extract(records, options)
    rejects += extract_rejects
    log.info("extract: %d documents, %d rejects", len(docs), len(extract_rejects))
    docs.sort(key=lambda d: d.doc_id)  # stage outputs never depend on input order
    grouping = group_documents(docs, options, timer)
    log.info(
        "group: %d candidate pairs, %d verified, %d stories",
        grouping.n_candidates,
        len(grouping.edges),
        len(grouping.stories),
    )
    with timer("canonicalise"):
        stories = canonicalise(docs, grouping, options, policy, pool_workers(options))
    return PipelineResult(
        documents=docs,
        rejects=rejects,
        stories=stories,
        grouping=grouping,
        input_files=n_files,
        input_records=input_records,
        timings=timer.seconds,
    )
