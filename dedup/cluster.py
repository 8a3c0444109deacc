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

A component of more than ``MAX_LINKAGE_COMPONENT`` documents (thousands of mutually linked
articles: a chain of near-duplicates or a topic everyone writes about) is first split by its own
edges: the edge threshold is raised, one similarity level at a time, until every part fits; each
part is the component it was at the loosest level where it fits (single-linkage clusters over
the component's maximum spanning forest, so nothing but the edges is needed). Each part is then
cut by average linkage like any other component.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

log = logging.getLogger("dedup")

# Largest component cut by average linkage on its dense similarity matrix (4000 documents:
# 128 MB of float64 and about a second of linkage); larger components are split first.
MAX_LINKAGE_COMPONENT = 4000
# Components up to this size are scored together through ``similarity_matrices`` (when given),
# in batches of about BATCH_CELLS similarities: one call instead of one sparse product each.
SMALL_COMPONENT = 64
BATCH_CELLS = 1 << 18


def component_labels(n_docs: int, links: np.ndarray) -> np.ndarray:
    """Connected-component label of every document (labels numbered by smallest member)."""
    pairs = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_docs, n_docs))
    _, labels = connected_components(graph, directed=False)
    return labels


def _groups_of(labels: np.ndarray) -> list[np.ndarray]:
    """Members of each label, ascending, groups in order of their smallest member."""
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1]))) if len(order) else []
    groups = np.split(order, starts[1:]) if len(order) else []
    return sorted(groups, key=lambda g: int(g[0]))


def connected_groups(n_docs: int, links: Sequence[tuple[int, int]] | np.ndarray) -> list[list[int]]:
    """Connected components of the graph of ``links`` (index pairs) over ``n_docs`` nodes."""
    if n_docs == 0:
        return []
    return [g.tolist() for g in _groups_of(component_labels(n_docs, np.asarray(links)))]


def split_component(pairs: np.ndarray, similarities: np.ndarray, n: int, max_size: int) -> list[np.ndarray]:
    """Parts of one connected component of ``n`` documents (local indices ``0..n-1``, linked by
    ``pairs`` with ``similarities``), each of at most ``max_size`` documents.

    Raising the edge threshold level by level splits the component; a part is final at the
    loosest level where it has at most ``max_size`` documents. Computed bottom-up over the
    maximum spanning forest (whose components at any threshold are the graph's): edges by
    descending similarity, all edges of one similarity at once, union-find."""
    if n <= max_size:
        return [np.arange(n)]
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    levels, level = np.unique(np.asarray(similarities, dtype=np.float64), return_inverse=True)
    level = level.ravel()
    # Exact integer weights, the most similar edge the lightest; a duplicate pair keeps its
    # most similar edge (coo sums duplicates, so take it out first).
    a, b = np.minimum(pairs[:, 0], pairs[:, 1]), np.maximum(pairs[:, 0], pairs[:, 1])
    order = np.lexsort((-level, b, a))
    first = np.concatenate(([True], (a[order][1:] != a[order][:-1]) | (b[order][1:] != b[order][:-1])))
    keep = order[first]
    weight = (len(levels) - level[keep]).astype(np.float64)
    forest = minimum_spanning_tree(coo_matrix((weight, (a[keep], b[keep])), shape=(n, n))).tocoo()
    f_level = len(levels) - forest.data.astype(np.int64)
    by_level = np.lexsort((forest.col, forest.row, -f_level))
    parent = list(range(n))
    members: list[list[int] | None] = [[i] for i in range(n)]
    blocked = [False] * n
    parts: list[np.ndarray] = []

    def root(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def freeze(r: int) -> None:
        if not blocked[r]:
            parts.append(np.sort(np.array(members[r], dtype=np.int64)))
            members[r] = None
            blocked[r] = True

    rows, cols, lv = forest.row.tolist(), forest.col.tolist(), f_level.tolist()
    k = 0
    while k < len(by_level):
        # All forest edges of one level join their components at once.
        end = k
        while end < len(by_level) and lv[by_level[end]] == lv[by_level[k]]:
            end += 1
        joined: dict[int, list[int]] = {}
        local_parent: dict[int, int] = {}

        def local_root(x: int, local_parent: dict[int, int] = local_parent) -> int:
            while local_parent.setdefault(x, x) != x:
                x = local_parent[x]
            return x

        for e in by_level[k:end].tolist():
            ra, rb = local_root(root(rows[e])), local_root(root(cols[e]))
            if ra != rb:
                local_parent[max(ra, rb)] = min(ra, rb)
        for r in local_parent:
            joined.setdefault(local_root(r), []).append(r)
        for new_root, group in joined.items():
            total = sum(_size(members, blocked, g) for g in group)
            if total > max_size or any(blocked[g] for g in group):
                for g in group:
                    freeze(g)
            else:
                merged: list[int] = []
                for g in group:
                    merged.extend(members[g] or [])
                    members[g] = None
                members[new_root] = merged
            for g in group:
                parent[g] = new_root
            blocked[new_root] = blocked[new_root] or any(blocked[g] for g in group)
        k = end
    for r in range(n):
        if parent[r] == r:
            freeze(r)
    return sorted(parts, key=lambda p: int(p[0]))


def _size(members: list[list[int] | None], blocked: list[bool], r: int) -> int:
    return 0 if blocked[r] else len(members[r] or ())


def cut_dendrogram(sim: np.ndarray, threshold: float, cohesion_ratio: float) -> list[list[int]]:
    """Groups (local indices) of an average-linkage dendrogram over the symmetric similarity
    matrix ``sim`` (diagonal 1): a merge is kept if its average similarity reaches ``threshold``,
    both children were kept, and (for two multi-document children) it passes the cohesion test."""
    # Imported here (0.2 s with scipy.spatial): the engine loads them while documents are
    # extracted (LATER_STAGE_MODULES), not before.
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

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
    links: Sequence[tuple[int, int]] | np.ndarray,
    threshold: float,
    cohesion_ratio: float,
    similarity_matrix: Callable[[np.ndarray], np.ndarray],
    similarities: np.ndarray | None = None,
    similarity_matrices: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None,
    max_component: int = MAX_LINKAGE_COMPONENT,
) -> list[list[int]]:
    """Groups of document indices, each sorted, the list sorted by first member.

    ``links`` are the verified pairs (similarity at or above ``threshold``), an (m, 2) array or
    a sequence of pairs; components of more than two documents are cut with
    ``similarity_matrix``, which scores all pairs of a component's documents (exact
    similarities, also for pairs LSH did not propose), or, for many small components at once,
    with ``similarity_matrices`` (the same matrices for a list of components) when given.
    ``similarities`` (one per link) split components of more than ``max_component`` documents
    first (see ``split_component``); without them such a component's link similarities are
    read from ``similarity_matrix``, two documents at a time.
    """
    if n_docs == 0:
        return []
    pairs = np.asarray(links, dtype=np.int64).reshape(-1, 2)
    labels = component_labels(n_docs, pairs)
    stories: list[list[int]] = []
    to_cut: list[np.ndarray] = []
    for group in _groups_of(labels):
        if len(group) <= 2:
            stories.append(group.tolist())
            continue
        parts = [group]
        if len(group) > max_component:
            inside = np.flatnonzero(labels[pairs[:, 0]] == labels[group[0]])
            local = np.searchsorted(group, pairs[inside])
            if similarities is not None:
                sims = np.asarray(similarities, dtype=np.float64)[inside]
            else:
                sims = np.array([similarity_matrix(group[p])[0, 1] for p in local])
            parts = [group[p] for p in split_component(local, sims, len(group), max_component)]
            log.info(
                "cluster: split a component of %d documents into %d parts of at most %d",
                len(group),
                len(parts),
                max_component,
            )
        for members in parts:
            if len(members) <= 2:
                stories.append(members.tolist())
            else:
                to_cut.append(members)
    small = [g for g in to_cut if len(g) <= SMALL_COMPONENT] if similarity_matrices else []
    batch: list[np.ndarray] = []
    cells = 0
    for k, members in enumerate(small):
        batch.append(members)
        cells += len(members) ** 2
        if cells >= BATCH_CELLS or k == len(small) - 1:
            assert similarity_matrices is not None
            for group, sim in zip(batch, similarity_matrices(batch), strict=True):
                stories.extend(_cut(group, sim, threshold, cohesion_ratio))
            batch, cells = [], 0
    for members in to_cut:
        if not small or len(members) > SMALL_COMPONENT:
            stories.extend(_cut(members, similarity_matrix(members), threshold, cohesion_ratio))
    return sorted(stories, key=lambda s: s[0])


def _cut(members: np.ndarray, sim: np.ndarray, threshold: float, cohesion_ratio: float) -> list[list[int]]:
    sim = np.clip(sim, 0.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return [sorted(members[local].tolist()) for local in cut_dendrogram(sim, threshold, cohesion_ratio)]
