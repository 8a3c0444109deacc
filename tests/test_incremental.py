"""Incremental runs with a state folder: batches join earlier stories without rewriting history."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from conftest import SEEDS, SHARED, requires_shared
from dedup import job
from dedup.cli import main
from dedup.engines.incremental import reconcile_with_history
from dedup.evaluate import adjusted_rand_index


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _batches(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for seed in sorted(SEEDS.glob("*.txt")):
        shutil.copy(seed, (a if seed.name[:3] in ("000", "001", "002") else b) / seed.name)
    return a, b


def _docs(out: Path) -> dict[str, str]:
    return {d["doc_id"]: d["cluster_id"] for d in pq.read_table(out / "documents.parquet").to_pylist()}


def test_second_batch_joins_the_first_batch_story(tmp_path: Path) -> None:
    a, b = _batches(tmp_path)
    state = tmp_path / "state"
    assert run_cli("run", str(a), "--out", str(tmp_path / "out-a"), "--state", str(state), "-q")[0] == 0
    assert run_cli("run", str(b), "--out", str(tmp_path / "out-b"), "--state", str(state), "-q")[0] == 0
    first, second = _docs(tmp_path / "out-a"), _docs(tmp_path / "out-b")
    assert len(first) == 3 and len(second) == 2  # each run lists its own batch
    assert len(set(first.values()) | set(second.values())) == 1  # one story, its id kept
    (story,) = pq.read_table(tmp_path / "out-b" / "clusters.parquet").to_pylist()
    assert story["size"] == 5 and story["cluster_id"] == next(iter(first.values()))
    assert story["canonical_doc_id"].startswith("004_")  # re-canonicalised with all members
    additions = pq.read_table(tmp_path / "out-b" / "additions.parquet").to_pylist()
    assert any("July 24" in a["text"] for a in additions if a["doc_id"].startswith("003_"))
    manifest = json.loads((tmp_path / "out-b" / "manifest.json").read_text())
    assert manifest["state"]["documents_before"] == 3 and manifest["state"]["documents_after"] == 5
    # Same batch again: a no-op; the same documents in another run: rejected as already known.
    code, output = run_cli("run", str(b), "--out", str(tmp_path / "out-b"), "--state", str(state))
    assert code == 0 and "nothing to do" in output
    assert run_cli("run", str(b), "--out", str(tmp_path / "out-c"), "--state", str(state), "-q")[0] == 0
    rejects = pq.read_table(tmp_path / "out-c" / "rejects.parquet").to_pylist()
    assert [r["reason"] for r in rejects] == ["duplicate_id", "duplicate_id"]


def test_crash_before_the_state_swap_is_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _batches(tmp_path)
    state = tmp_path / "state"
    assert run_cli("run", str(a), "--out", str(tmp_path / "out-a"), "--state", str(state), "-q")[0] == 0

    def crash(staging: Path, target: Path, owned: frozenset[str] | None = None) -> None:
        raise OSError("simulated crash after the outputs were published")

    monkeypatch.setattr(job, "swap_in", crash)
    assert run_cli("run", str(b), "--out", str(tmp_path / "out-b"), "--state", str(state), "-q")[0] == 1
    assert json.loads((state / "state.json").read_text())["n_documents"] == 3  # state untouched
    monkeypatch.undo()
    code, output = run_cli("run", str(b), "--out", str(tmp_path / "out-b"), "--state", str(state))
    assert code == 0 and "nothing to do" not in output  # outputs matched, the state did not
    assert json.loads((state / "state.json").read_text())["n_documents"] == 5
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".state.")]


def test_state_with_other_minhash_parameters_is_refused(tmp_path: Path) -> None:
    a, b = _batches(tmp_path)
    state = tmp_path / "state"
    assert run_cli("run", str(a), "--out", str(tmp_path / "out-a"), "--state", str(state), "-q")[0] == 0
    written = json.loads((state / "state.json").read_text())
    meta = json.loads(json.dumps(written))
    meta["minhash"]["scheme"] = "legacy"  # as if written by datasketch < 2.0
    (state / "state.json").write_text(json.dumps(meta))
    code, output = run_cli("run", str(b), "--out", str(tmp_path / "out-b"), "--state", str(state))
    assert code == 1 and "not comparable" in output
    # As if written before other languages' function words were left out of content words.
    meta = {key: value for key, value in written.items() if key != "content_words"}
    (state / "state.json").write_text(json.dumps(meta))
    code, output = run_cli("run", str(b), "--out", str(tmp_path / "out-b"), "--state", str(state))
    assert code == 1 and "content_words=None" in output


def test_a_bridge_merges_earlier_stories_and_history_wins() -> None:
    old_ids = ["s1", "s1", "s2", "s3"]
    docs = [type("D", (), {"doc_id": f"d{i}"})() for i in range(7)]
    # Old documents 0-3 (stories s1, s1, s2, s3); new 4-6. Group 1 bridges s1 and s2 through
    # document 4; group 2 is new document 5 alone; group 3 joins new 6 to s3.
    groups = [[0, 1, 2, 4], [5], [3, 6]]
    story_of, merges = reconcile_with_history(groups, list(range(7)), docs, 4, old_ids, "run1")
    assert story_of[4] == "s1" and story_of[2] == "s1" and story_of[6] == "s3"
    assert story_of[5] not in {"s1", "s2", "s3"}
    assert merges == [
        {"cluster_id": "s2", "merged_into": "s1", "run_key": "run1", "bridging_doc_ids": ["d4"]}
    ]


@requires_shared
def test_batches_give_the_stories_of_one_run(tmp_path: Path) -> None:
    """giveme5w1h in two halves by date, as daily batches arrive: ARI >= 0.98 against one run."""
    rows = [json.loads(line) for line in (SHARED / "data/stories/giveme5w1h.jsonl").read_text().splitlines()]
    rows.sort(key=lambda r: (r.get("date") or "", r["id"]))
    half = len(rows) // 2
    for name, part in (("a", rows[:half]), ("b", rows[half:]), ("all", rows)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "articles.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    assert run_cli("run", str(tmp_path / "all"), "--out", str(tmp_path / "out-all"), "-q")[0] == 0
    for name in ("a", "b"):
        code, _ = run_cli(
            "run",
            str(tmp_path / name),
            "--out",
            str(tmp_path / f"out-{name}"),
            "--state",
            str(tmp_path / "state"),
            "-q",
        )
        assert code == 0
    full = _docs(tmp_path / "out-all")
    merged = {
        m["cluster_id"]: m["merged_into"]
        for m in pq.read_table(tmp_path / "out-b" / "merges.parquet").to_pylist()
    }
    incremental = {
        d: merged.get(c, c) for d, c in (_docs(tmp_path / "out-a") | _docs(tmp_path / "out-b")).items()
    }
    ids = sorted(full)
    assert sorted(incremental) == ids
    assert adjusted_rand_index([full[i] for i in ids], [incremental[i] for i in ids]) >= 0.98
