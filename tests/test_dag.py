"""Behaviour a scheduler relies on: determinism, idempotent reruns, exit codes, crash safety."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
from click.testing import CliRunner

from conftest import ARTICLE_PARAGRAPHS, SEEDS, article_html
from dedup.cli import main
from dedup.output import TABLE_FILES

DEDUP = str(Path(sys.executable).with_name("dedup"))


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def tables_bytes(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in TABLE_FILES.values()}


def _story_rows() -> list[dict]:
    rows = [
        {
            "id": p.name,
            "title": p.read_text(encoding="utf-8").splitlines()[0],
            "text": p.read_text(encoding="utf-8"),
        }
        for p in sorted(SEEDS.glob("*.txt"))
    ]
    for k in range(4):
        rows.append(
            {
                "id": f"bridge-{k}",
                "title": "Bridge closed",
                "text": "\n".join(ARTICLE_PARAGRAPHS[k:] or ARTICLE_PARAGRAPHS),
            }
        )
    return rows


def test_shuffled_input_gives_identical_tables(tmp_path: Path) -> None:
    rows = _story_rows()
    outs = []
    for attempt in range(2):
        shuffled = rows[:]
        random.Random(attempt).shuffle(shuffled)
        folder = tmp_path / "in"  # same path: source_path is part of the tables
        folder.mkdir(exist_ok=True)
        (folder / "articles.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in shuffled), encoding="utf-8"
        )
        out = tmp_path / f"out{attempt}"
        assert run_cli("run", str(folder), "--out", str(out), "-q")[0] == 0
        outs.append(out)
    assert tables_bytes(outs[0]) == tables_bytes(outs[1])


def test_worker_count_does_not_change_outputs(tmp_path: Path) -> None:
    corpus = tmp_path / "pages"
    corpus.mkdir()
    for k in range(70):  # enough HTML pages for the extraction process pool to start
        paragraphs = [p.replace("Springfield", f"Town{k % 7}") for p in ARTICLE_PARAGRAPHS]
        (corpus / f"page{k:03d}.html").write_text(
            article_html(f"Bridge story {k % 7}", paragraphs), encoding="utf-8"
        )
    one, two = tmp_path / "one", tmp_path / "two"
    assert run_cli("run", str(corpus), "--out", str(one), "--workers", "1", "-q")[0] == 0
    assert run_cli("run", str(corpus), "--out", str(two), "--workers", "2", "-q")[0] == 0
    assert tables_bytes(one) == tables_bytes(two)


def test_rerun_is_a_noop_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("run", str(SEEDS), "--out", str(out), "-q")[0] == 0
    first = (out / "manifest.json").read_text()
    code, output = run_cli("run", str(SEEDS), "--out", str(out))
    assert code == 0 and "nothing to do" in output
    assert (out / "manifest.json").read_text() == first
    before = tables_bytes(out)
    code, output = run_cli("run", str(SEEDS), "--out", str(out), "--force")
    assert code == 0 and "wrote" in output
    assert tables_bytes(out) == before
    # A changed parameter is a different run.
    code, output = run_cli("run", str(SEEDS), "--out", str(out), "--min-words", "16")
    assert "wrote" in output


def test_reject_rate_exit_code(mixed_dir: Path, tmp_path: Path) -> None:
    code, output = run_cli("run", str(mixed_dir), "--out", str(tmp_path / "a"), "--max-reject-rate", "0.2")
    assert code == 3 and "--max-reject-rate" in output
    assert (tmp_path / "a" / "documents.parquet").exists()  # outputs are still written
    assert run_cli("run", str(mixed_dir), "--out", str(tmp_path / "b"), "--max-reject-rate", "0.6")[0] == 0


def test_json_logs(tmp_path: Path) -> None:
    result = subprocess.run(
        [DEDUP, "run", str(SEEDS), "--out", str(tmp_path / "out"), "--log-format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "message"} <= set(line) for line in lines)
    assert any("stories" in line["message"] for line in lines)


def test_sigkill_never_leaves_half_written_outputs(tmp_path: Path) -> None:
    """Kill runs at many moments; the folder always holds one complete, consistent run."""
    out = tmp_path / "out"
    assert run_cli("run", str(SEEDS), "--out", str(out), "-q")[0] == 0
    baseline = tables_bytes(out)
    for delay in (0.2, 0.5, 0.8, 1.1, 1.4, 1.7, 2.0):
        proc = subprocess.Popen(
            [DEDUP, "run", str(SEEDS), "--out", str(out), "--force", "-q"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # The next run recovers an interrupted swap, then the outputs are complete and equal.
        code, _ = run_cli("run", str(SEEDS), "--out", str(out), "-q")
        assert code == 0
        assert tables_bytes(out) == baseline
        manifest = json.loads((out / "manifest.json").read_text())
        for name, rows in manifest["tables"].items():
            assert pq.read_table(out / TABLE_FILES[name]).num_rows == rows
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
