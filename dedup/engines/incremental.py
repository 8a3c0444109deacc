"""Incremental runs: a new batch joins the stories of earlier batches, kept in a state folder.

The same stages as a batch run, scoped to what the batch touches:
1. the batch's documents are fingerprinted with term weights that include every earlier
   batch (document frequencies accumulate in the state);
2. LSH over the saved signatures of earlier documents plus the new ones proposes pairs; only
   pairs with a new document are verified (earlier pairs were decided before);
3. the connected components of earlier verified edges plus the new ones that contain a new
   document are re-clustered exactly as a batch run would, and nothing else is;
4. history wins: an earlier document keeps its story; a new document takes the story of the
   earlier documents it groups with, or founds a new one; when one group holds documents of
   several earlier stories (bridged by a new document, or joined because the statistics of
   more documents now say they are one story), they continue under the smallest story id and
   the merge is recorded instead of rewriting earlier outputs;
5. every story the batch touched is canonicalised again with all its members.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dedup.candidates import candidate_pairs
from dedup.canonical import story_id
from dedup.cluster import cluster_stories, connected_groups
from dedup.config import PipelineOptions
from dedup.engines.local import (
    DocumentFeatures,
    Grouping,
    PipelineResult,
    StageTimer,
    canonicalise,
    extract,
    ingest,
)
from dedup.records import Document, PairEdge, Reject, Story
from dedup.state import State
from dedup.weights import TermWeights

log = logging.getLogger("dedup")


@dataclass
class IncrementalRun:
    result: PipelineResult  # documents: the batch's; stories: every story it touched
    docs: list[Document]  # what the stories' and edges' indices point into
    story_of: dict[int, str]  # index in ``docs`` -> story id, for every document in ``docs``
    new_doc_ids: set[str]
    merges: list[dict]
    state: State


class _FeatureCache:
    """Each document's features computed once, whichever steps need them (the batch's own
    are known from fingerprinting; earlier documents are tokenised when first touched)."""

    def __init__(self, all_docs: Sequence[Document], n_old: int, new: DocumentFeatures) -> None:
        self.all_docs = all_docs
        self.rows = {
            n_old + k: row for k, row in enumerate(zip(new.tokens, new.content, new.titles, strict=True))
        }

    def __call__(self, indices: Sequence[int]) -> DocumentFeatures:
        missing = [i for i in indices if i not in self.rows]
        found = DocumentFeatures.of([self.all_docs[i] for i in missing], language=None)
        self.rows.update(
            zip(missing, zip(found.tokens, found.content, found.titles, strict=True), strict=True)
        )
        rows = [self.rows[i] for i in indices]
        return DocumentFeatures([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


class _StoryIds:
    """Union-find over story ids; a merged set continues under its smallest id."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, cid: str) -> str:
        root = cid
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        self.parent[cid] = root
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def run_incremental(
    inputs: Sequence[str], options: PipelineOptions, state: State, run_key: str, policy: str = "coverage"
) -> IncrementalRun:
    timer = StageTimer()
    with timer("ingest"):
        n_files, records, rejects = ingest(inputs)
    input_records = len(records) + len(rejects)
    known = {d.doc_id for d in state.documents}
    fresh = []
    for record in records:
        if record.doc_id in known:
            rejects.append(
                Reject(record.source_path, "duplicate_id", "already in the state folder", record.doc_id)
            )
        else:
            fresh.append(record)
    with timer("extract"):
        new_docs, extract_rejects = extract(fresh, options)
    rejects += extract_rejects
    new_docs.sort(key=lambda d: d.doc_id)
    n_old = state.n_documents
    all_docs = [*state.documents, *new_docs]
    n = len(all_docs)

    with timer("fingerprint"):
        new_features = DocumentFeatures.of(new_docs, language=None)  # weighed with the state's df
        df = state.document_frequencies.copy()
        for content in new_features.content:
            df.update(set(content))
        weights = TermWeights(df, n)
        new_signatures = new_features.signatures(weights, options)
        signatures = {
            view: np.vstack([state.signatures[view], rows]) if n_old else rows
            for view, rows in new_signatures.items()
        }
    with timer("candidates"):
        candidates = {
            pair: views
            for pair, views in candidate_pairs(signatures, options.views, options.minhash).items()
            if pair[1] >= n_old  # pairs are (i, j) with i < j: j is the new document
        }
    with timer("verify"):
        features_of = _FeatureCache(all_docs, n_old, new_features)
        near = sorted(set(range(n_old, n)) | {i for pair in candidates for i in pair})
        near_docs = [all_docs[i] for i in near]
        near_features = features_of(near)
        local = {g: k for k, g in enumerate(near)}
        verified = near_features.verifier(near_docs, weights, options).verify(
            {(local[a], local[b]): views for (a, b), views in candidates.items()}, near_features.tokens
        )
        new_edges = [(near[e.a], near[e.b], e) for e in verified]

    with timer("cluster"):
        index = {d.doc_id: i for i, d in enumerate(all_docs)}
        old_links = [(index[a], index[b]) for a, b in state.edges]
        links = old_links + [(a, b) for a, b, _ in new_edges]
        touched = sorted(i for group in connected_groups(n, links) if group[-1] >= n_old for i in group)
        docs = [all_docs[i] for i in touched]
        features = features_of(touched)
        verifier = features.verifier(docs, weights, options)
        position = {g: k for k, g in enumerate(touched)}
        local_links = np.array(
            [(position[a], position[b]) for a, b in links if a in position and b in position], dtype=np.int64
        ).reshape(-1, 2)
        # Earlier edges are rescored with today's weights, as a run over all batches would.
        similarities = verifier.similarity(local_links)
        kept = similarities >= options.threshold
        groups = cluster_stories(
            len(docs),
            local_links[kept],
            options.threshold,
            options.cohesion_ratio,
            verifier.similarity_matrix,
            similarities=similarities[kept],
            similarity_matrices=verifier.similarity_matrices,
        )
        story_of, merges = reconcile_with_history(
            groups, touched, all_docs, n_old, state.cluster_ids, run_key
        )

    members: dict[str, list[int]] = {}
    for k, g in enumerate(touched):
        members.setdefault(story_of[g], []).append(k)
    touched_ids = {story_of[g] for g in range(n_old, n)} | {m["merged_into"] for m in merges}
    edges = [
        PairEdge(
            position[a],
            position[b],
            e.similarity,
            e.body_similarity,
            e.title_similarity,
            e.shingle_jaccard,
            e.days_apart,
            e.views,
        )
        for a, b, e in new_edges
    ]
    grouping = Grouping(
        edges=edges,
        stories=[members[cid] for cid in sorted(touched_ids)],
        n_candidates=len(candidates),
        verifier=verifier,
        weights=weights,
        tokens=features.tokens,
    )
    with timer("canonicalise"):
        stories: list[Story] = canonicalise(docs, grouping, options, policy)
    for story, cid in zip(stories, sorted(touched_ids), strict=True):
        story.cluster_id = cid  # the persistent id, not one derived from today's members

    new_state = State(
        documents=all_docs,
        # Merged stories lie wholly inside touched components, so untouched ids stand.
        cluster_ids=[story_of.get(i, state.cluster_ids[i] if i < n_old else "") for i in range(n)],
        signatures=signatures,
        edges=[*state.edges, *((all_docs[a].doc_id, all_docs[b].doc_id) for a, b, _ in new_edges)],
        document_frequencies=df,
        merges=[*state.merges, *merges],
        meta={**state.meta, "last_run_key": run_key},
    )
    log.info(
        "incremental: %d new documents, %d candidate pairs, %d stories touched, %d merges",
        len(new_docs),
        len(candidates),
        len(stories),
        len(merges),
    )
    result = PipelineResult(
        documents=new_docs,
        rejects=rejects,
        stories=stories,
        grouping=grouping,
        input_files=n_files,
        input_records=input_records,
        timings=timer.seconds,
    )
    return IncrementalRun(
        result=result,
        docs=docs,
        story_of={position[g]: cid for g, cid in story_of.items()},
        new_doc_ids={d.doc_id for d in new_docs},
        merges=merges,
        state=new_state,
    )


def reconcile_with_history(
    groups: Sequence[Sequence[int]],
    touched: Sequence[int],
    all_docs: Sequence[Document],
    n_old: int,
    old_ids: Sequence[str],
    run_key: str,
) -> tuple[dict[int, str], list[dict]]:
    """Story id of every touched document (global index), and the merges this batch causes."""
    ids = _StoryIds()
    joined: list[tuple[list[int], list[str]]] = []
    for group in groups:
        docs = [touched[k] for k in group]
        new = [g for g in docs if g >= n_old]
        earlier = sorted({old_ids[g] for g in docs if g < n_old})
        if not new and len(earlier) < 2:
            continue  # earlier documents that stay as they were
        for other in earlier[1:]:
            ids.union(earlier[0], other)
        joined.append((new, earlier))
    story_of: dict[int, str] = {}
    bridges: dict[str, set[str]] = {}
    for new, earlier in joined:
        if not new and len(earlier) > 1:  # earlier stories this batch's statistics now join
            for old in earlier:
                bridges.setdefault(old, set())
            continue
        cid = ids.find(earlier[0]) if earlier else story_id([all_docs[g].doc_id for g in new])
        for g in new:
            story_of[g] = cid
        if len(earlier) > 1:
            for old in earlier:
                bridges.setdefault(old, set()).update(all_docs[g].doc_id for g in new)
    for g in touched:
        if g < n_old:
            story_of[g] = ids.find(old_ids[g])
    merges = [
        {
            "cluster_id": old,
            "merged_into": ids.find(old),
            "run_key": run_key,
            "bridging_doc_ids": sorted(bridge),
        }
        for old, bridge in sorted(bridges.items())
        if ids.find(old) != old
    ]
    return story_of, merges
