"""Cluster: story groups from verified edges.

Connected components alone let one bridge document chain two stories together, so inside
each component we cut an average-linkage dendrogram: a document joins a group only if it is
similar, on average, to the whole group. Inside a component every pair is scored exactly,
also the pairs LSH did not propose (components are small; the corpus is never all-pairs).

One absolute cut is a knife edge on labelled sets whose "story" granularity differs (topic-level
vs event-level gold: +/-0.005 moved ARI by 0.03). So a merge of two groups of two or more must
also be relative: their mean cross similarity must reach ``cohesion_ratio`` times the mean
internal similarity of the looser of the two. Two tight same-day events about the same people
stay apart; loose topic-level groups still join. With it ARI stays >= 0.90 on every labelled set
over thresholds 0.085-0.100 (benchmarks/grouping.py prints the sensitivity table).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.cluster.hierarchy import linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

# Beyond this size a component's dense distance matrix would be too large; such components
# keep their connected-component grouping (rare: it takes thousands of mutually linked docs).
MAX_LINKAGE_COMPONENT = 4000


def connected_groups(n_docs: int, links: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Connected components of the graph of ``links`` (index pairs) over ``n_docs`` nodes."""
    if n_docs == 0:
        return []
    pairs = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_docs, n_docs))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for doc, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(doc)
    return list(groups.values())


def cut_dendrogram(sim: np.ndarray, threshold: float, cohesion_ratio: float) -> list[list[int]]:
    """Groups (local indices) of an average-linkage dendrogram over the symmetric similarity
    matrix ``sim`` (diagonal 1): a merge is kept if its average similarity reaches ``threshold``,
    both children were kept, and (for two multi-document children) it passes the cohesion test."""
    k = len(sim)
    merges = linkage(squareform(1.0 - sim, checks=False), method="average")
    members: list[list[int]] = [[i] for i in range(k)]
    # Sum of internal pair similarities of each node, so cohesion costs nothing extra.
    internal = [0.0] * k
    kept = [True] * k
    for a_f, b_f, distance, _ in merges:
        a, b = int(a_f), int(b_f)
        ma, mb = members[a], members[b]
        cross = float(sim[np.ix_(ma, mb)].sum())
        keep = kept[a] and kept[b] and distance <= 1.0 - threshold
        if keep and len(ma) > 1 and len(mb) > 1:
            looser = min(_mean_pair(internal[a], len(ma)), _mean_pair(internal[b], len(mb)))
            keep = cross / (len(ma) * len(mb)) >= cohesion_ratio * looser
        members.append(ma + mb)
        internal.append(internal[a] + internal[b] + cross)
        kept.append(keep)
    groups: list[list[int]] = []
    stack = [len(members) - 1]
    while stack:  # the maximal kept subtrees
        node = stack.pop()
        if kept[node]:
            groups.append(members[node])
        else:
            stack.extend(int(c) for c in merges[node - k, :2])
    return groups


def _mean_pair(total: float, size: int) -> float:
    return total / (size * (size - 1) / 2)


def cluster_stories(
    n_docs: int,
    links: Sequence[tuple[int, int]],
    threshold: float,
    cohesion_ratio: float,
    similarity_matrix: Callable[[np.ndarray], np.ndarray],
) -> list[list[int]]:
    """Groups of document indices, each sorted, the list sorted by first member.

    ``links`` are the verified pairs (similarity at or above ``threshold``); components of
    more than two documents are cut with ``similarity_matrix``, which scores all pairs of a
    component's documents (exact similarities, also for pairs LSH did not propose).
    """
    stories: list[list[int]] = []
    for group in connected_groups(n_docs, links):
        if len(group) <= 2 or len(group) > MAX_LINKAGE_COMPONENT:
            stories.append(sorted(group))
            continue
        members = np.asarray(group)
        sim = np.clip(similarity_matrix(members), 0.0, 1.0)
        np.fill_diagonal(sim, 1.0)
        for local in cut_dendrogram(sim, threshold, cohesion_ratio):
            stories.append(sorted(members[local].tolist()))
    return sorted(stories, key=lambda s: s[0])
