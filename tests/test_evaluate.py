from __future__ import annotations

import pytest

from dedup.evaluate import adjusted_rand_index, score_grouping


@pytest.mark.parametrize(
    ("gold", "pred", "expected"),
    [
        ([0, 0, 1, 1], [0, 0, 1, 1], 1.0),
        ([0, 0, 1, 1], [1, 1, 0, 0], 1.0),
        ([0, 0, 1, 1], [0, 0, 1, 2], 0.5714285714),  # reference values of the ARI definition
        ([0, 0, 1, 1], [0, 1, 0, 1], -0.5),
    ],
)
def test_ari_reference_values(gold: list[int], pred: list[int], expected: float) -> None:
    assert adjusted_rand_index([str(x) for x in gold], [str(x) for x in pred]) == pytest.approx(expected)


def test_scores_name_merges_and_splits() -> None:
    gold = {"a": "s1", "b": "s1", "c": "s2", "d": "s3", "e": "s3"}
    pred = {"a": "p1", "b": "p2", "c": "p3", "d": "p3", "e": "p3"}
    scores = score_grouping(gold, pred)
    assert scores.worst_merges == [("p3", ["s2", "s3"])]
    assert scores.worst_splits == [("s1", ["p1", "p2"])]
    assert scores.pairwise_precision == pytest.approx(1 / 3)
    assert scores.pairwise_recall == pytest.approx(1 / 2)
    assert 0 < scores.bcubed_f1 < 1
