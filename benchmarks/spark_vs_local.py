"""Local engine vs Spark (local[2]) on a generated corpus of real sentences.

    python benchmarks/spark_vs_local.py [--size 100000] [--data ../shared/data/stories]

Each generated story is made of the sentences of two real articles of different labelled
stories; its 1-6 versions each keep 60-90% of those sentences in shuffled order, and about
20% of versions are planted rewrites (sentences from a third article of the first story
mixed in). Everything is seeded, so a size always gives the same corpus. Prints wall time,
documents per second, the Spark/local ratio and Spark's time per stage.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dedup.config import PipelineOptions  # noqa: E402
from dedup.engines.local import run_pipeline  # noqa: E402
from dedup.engines.spark import get_session, run_spark  # noqa: E402
from dedup.text import split_sentences  # noqa: E402

SEED = 20251125
REWRITE_SHARE = 0.2


def load_articles(data: Path) -> dict[str, list[list[str]]]:
    """Sentences of every labelled article, by gold story."""
    stories: dict[str, list[list[str]]] = {}
    for name in ("giveme5w1h.jsonl", "basil.jsonl"):
        for line in (data / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            sentences = [s for p in row["text"].splitlines() for s in split_sentences(p) if s.strip()]
            if len(sentences) >= 4:
                stories.setdefault(f"{name}:{row['story']}", []).append(sentences)
    return stories


def generate(stories: dict[str, list[list[str]]], size: int, out: Path) -> None:
    rng = random.Random(SEED)
    keys = sorted(stories)
    rows, story = [], 0
    while len(rows) < size:
        first, second = rng.sample(keys, 2)
        pool = rng.choice(stories[first]) + rng.choice(stories[second])
        for version in range(rng.randint(1, 6)):
            sentences = rng.sample(pool, max(3, int(len(pool) * rng.uniform(0.6, 0.9))))
            if rng.random() < REWRITE_SHARE:
                sentences += rng.sample(rng.choice(stories[first]), 2)
                rng.shuffle(sentences)
            rows.append(
                {"id": f"g{story:06d}-{version}", "title": sentences[0][:80], "text": " ".join(sentences)}
            )
        story += 1
    out.mkdir(parents=True, exist_ok=True)
    for part in range(0, size, 5000):  # several files, so Spark reads them in parallel
        chunk = rows[part : min(part + 5000, size)]
        (out / f"part-{part // 5000:04d}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in chunk), encoding="utf-8"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "stories")
    parser.add_argument("--corpus", type=Path, default=ROOT / "bench-results" / "spark-corpus")
    args = parser.parse_args()
    corpus = args.corpus / str(args.size)
    if not corpus.is_dir():
        generate(load_articles(args.data), args.size, corpus)
    options = PipelineOptions()
    started = time.perf_counter()
    local = run_pipeline([str(corpus)], options)
    local_seconds = time.perf_counter() - started
    spark = get_session("local[2]")
    started = time.perf_counter()
    run = run_spark([str(corpus)], options, "coverage", spark)
    tables = run.collect_tables()
    spark_seconds = time.perf_counter() - started
    n = len(local.documents)
    print(f"{args.size} generated articles -> {n} documents, {len(local.stories)} stories (local)")
    print(f"{'engine':<16}{'seconds':>10}{'docs/s':>10}")
    print(f"{'local':<16}{local_seconds:>10.1f}{n / local_seconds:>10.0f}")
    print(f"{'spark local[2]':<16}{spark_seconds:>10.1f}{n / spark_seconds:>10.0f}")
    print(f"spark / local time: {spark_seconds / local_seconds:.2f}")
    print("spark stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in run.timings.items()))
    print("local stages (s): " + ", ".join(f"{k} {v:.1f}" for k, v in local.timings.items()))
    print(f"same number of stories: {tables['clusters'].num_rows == len(local.stories)}")


if __name__ == "__main__":
    main()
