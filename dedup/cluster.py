"""Cluster: story groups from verified edges.

Connected components alone let one bridge document chain two stories together, so inside
each component we cut an average-linkage dendrogram: a document joins a group only if it is
similar, on average, to the whole group. Pairs never proposed by LSH count as similarity 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import squareform

from dedup.records import PairEdge

# Beyond this size a component's dense distance matrix would be too large; such components
# keep their connected-component grouping (rare: it takes thousands of mutually linked docs).
MAX_LINKAGE_COMPONENT = 4000


def connected_groups(n_docs: int, edges: Sequence[PairEdge]) -> list[list[int]]:
    if n_docs == 0:
        return []
    rows = np.array([e.a for e in edges], dtype=np.int64)
    cols = np.array([e.b for e in edges], dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(n_docs, n_docs))
    _, labels = connected_components(graph, directed=False)
    groups: dict[int, list[int]] = {}
    for doc, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(doc)
    return list(groups.values())


def cluster_stories(
    n_docs: int,
    edges: Sequence[PairEdge],
    threshold: float,
    pair_similarity: Callable[[np.ndarray], np.ndarray] | None = None,
) -> list[list[int]]:
    """Groups of document indices, each sorted, the list sorted by first member.

    ``pair_similarity`` scores index pairs inside a component (exact similarities for pairs
    LSH did not propose); without it only the edges' similarities are used.
    """
    edge_sim = {(e.a, e.b): e.similarity for e in edges}
    stories: list[list[int]] = []
    for group in connected_groups(n_docs, edges):
        if len(group) <= 2 or len(group) > MAX_LINKAGE_COMPONENT:
            stories.append(sorted(group))
            continue
        k = len(group)
        sim = np.zeros((k, k))
        iu = np.triu_indices(k, 1)
        members = np.asarray(group)
        if pair_similarity is not None:
            sim[iu] = pair_similarity(np.stack([members[iu[0]], members[iu[1]]], axis=1))
        else:
            for x, y in zip(*iu, strict=True):
                a, b = sorted((group[x], group[y]))
                sim[x, y] = edge_sim.get((a, b), 0.0)
        sim = np.clip(sim + sim.T, 0.0, 1.0)
        distance = squareform(1.0 - sim, checks=False)
        labels = fcluster(linkage(distance, method="average"), t=1.0 - threshold, criterion="distance")
        for label in sorted(set(labels.tolist())):
            stories.append(sorted(members[labels == label].tolist()))
    return sorted(stories, key=lambda s: s[0])
