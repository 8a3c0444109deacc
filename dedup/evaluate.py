"""Grouping quality against gold story labels: ARI, pairwise and B-cubed precision/recall/F1,
and the worst merged and split stories, so a user with labelled data can measure us."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np


def _comb2(x: np.ndarray) -> np.ndarray:
    return x * (x - 1) / 2.0


def adjusted_rand_index(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Hubert & Arabie's adjusted Rand index (1.0 = identical partitions, ~0 = chance)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted labels differ in length")
    n = len(gold)
    if n < 2:
        return 1.0
    pairs = Counter(zip(gold, predicted, strict=True))
    index = _comb2(np.array(list(pairs.values()), dtype=np.float64)).sum()
    sum_gold = _comb2(np.array(list(Counter(gold).values()), dtype=np.float64)).sum()
    sum_pred = _comb2(np.array(list(Counter(predicted).values()), dtype=np.float64)).sum()
    expected = sum_gold * sum_pred / _comb2(np.float64(n))
    maximum = (sum_gold + sum_pred) / 2.0
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class GroupingScores:
    n_documents: int
    n_gold_stories: int
    n_predicted_stories: int
    ari: float
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    worst_merges: list[tuple[str, list[str]]] = field(default_factory=list)  # predicted id -> gold stories
    worst_splits: list[tuple[str, list[str]]] = field(default_factory=list)  # gold story -> predicted ids


def score_grouping(gold: Mapping[str, str], predicted: Mapping[str, str], worst: int = 5) -> GroupingScores:
    """Scores over the documents present in both mappings (doc_id -> story label)."""
    ids = sorted(set(gold) & set(predicted))
    g = [gold[i] for i in ids]
    p = [predicted[i] for i in ids]
    joint = Counter(zip(g, p, strict=True))
    gold_sizes, pred_sizes = Counter(g), Counter(p)
    same_both = sum(c * (c - 1) / 2 for c in joint.values())
    same_pred = sum(c * (c - 1) / 2 for c in pred_sizes.values())
    same_gold = sum(c * (c - 1) / 2 for c in gold_sizes.values())
    pw_p = same_both / same_pred if same_pred else 1.0
    pw_r = same_both / same_gold if same_gold else 1.0
    b3_p = sum(joint[(gi, pi)] / pred_sizes[pi] for gi, pi in zip(g, p, strict=True)) / max(len(ids), 1)
    b3_r = sum(joint[(gi, pi)] / gold_sizes[gi] for gi, pi in zip(g, p, strict=True)) / max(len(ids), 1)

    golds_of: dict[str, set[str]] = defaultdict(set)
    preds_of: dict[str, set[str]] = defaultdict(set)
    for gi, pi in zip(g, p, strict=True):
        golds_of[pi].add(gi)
        preds_of[gi].add(pi)
    merges = sorted(
        ((k, sorted(v)) for k, v in golds_of.items() if len(v) > 1), key=lambda x: (-len(x[1]), x[0])
    )
    splits = sorted(
        ((k, sorted(v)) for k, v in preds_of.items() if len(v) > 1), key=lambda x: (-len(x[1]), x[0])
    )
    return GroupingScores(
        n_documents=len(ids),
        n_gold_stories=len(gold_sizes),
        n_predicted_stories=len(pred_sizes),
        ari=adjusted_rand_index(g, p),
        pairwise_precision=pw_p,
        pairwise_recall=pw_r,
        pairwise_f1=_f1(pw_p, pw_r),
        bcubed_precision=b3_p,
        bcubed_recall=b3_r,
        bcubed_f1=_f1(b3_p, b3_r),
        worst_merges=merges[:worst],
        worst_splits=splits[:worst],
    )
