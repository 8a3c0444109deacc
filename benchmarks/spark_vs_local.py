"""Local engine vs Spark (local[2]) on a generated corpus of real sentences.

    python benchmarks/spark_vs_local.py [--size 100000] [--data ../shared/data/stories]
                                        [--master local[2]] [--driver-memory 6g]

The corpus is the scale benchmark's (benchmarks/scale.py, its default seed): ~650-word
originals of real sentences from random stories, with their rare words and numbers made the
article's own and a headline around one of its names, and 20% planted versions of recent
originals (exact, trimmed, shuffled or reworded), split into part files of 5,000 articles.
Everything is seeded, so a size always gives the same corpus.

Both engines run in this one process, one after the other (local first, then Spark), on the
same corpus, so the ratio is measured under the same machine load. Prints wall time, documents
per second, the Spark/local ratio, both engines' time per stage, peak memory (this process and
its children: the local engine's worker processes, Spark's JVM and its Python workers) and
whether both engines wrote identical tables; writes the figures to
bench-results/spark_vs_local.json (one entry per size).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.scale import SEED, write_corpus  # noqa: E402
from dedup.config import PipelineOptions  # noqa: E402
from dedup.engines.local import run_pipeline  # noqa: E402
from dedup.engines.spark import (  # noqa: E402
    ARROW_BATCH_ROWS,
    get_session,
    run_spark,
    start_workers,
    verify_groups,
)
from dedup.output import as_table, build_tables  # noqa: E402

PART_ROWS = 5000
STAGES = ("ingest", "extract", "fingerprint", "candidates", "verify", "cluster", "canonicalise", "collect")
RESULTS = ROOT / "bench-results" / "spark_vs_local.json"


def generate(data: Path, size: int, out: Path) -> None:
    """The scale benchmark's corpus (benchmarks/scale.py, same seed), split into part files of
    5,000 articles so that Spark reads them in parallel."""
    # Written beside ``out`` and renamed into place: an interrupted run leaves no folder that
    # looks like a whole corpus.
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    whole = staging / "corpus.jsonl.tmp"
    write_corpus(whole, size, SEED, data)
    lines = whole.read_text(encoding="utf-8").splitlines(keepends=True)
    for part in range(0, size, PART_ROWS):
        (staging / f"part-{part // PART_ROWS:04d}.jsonl").write_text(
            "".join(lines[part : part + PART_ROWS]), encoding="utf-8"
        )
    whole.unlink()
    staging.rename(out)


class PeakMemory:
    """Peak resident memory of this process plus all its descendants (the local engine's
    worker processes; Spark's JVM and its Python daemon and workers), sampled from /proc."""

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def gib(self) -> float:
        return self.peak / 2**30

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, tree_rss(os.getpid()))


def tree_rss(root: int) -> int:
    """Resident bytes of ``root`` and its descendants (0 where /proc is unavailable)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            pid, parent = int(entry.name), int(fields[1])
            rss[pid] = int((entry / "statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(pid)
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def default_driver_memory(size: int) -> str:
    """The Spark driver's heap (the only executor in local mode): 4 GiB, plus 2 GiB per 100k
    articles (persisted documents, candidate pairs and sort buffers; the rest spills to
    spark.local.dir), at most 12 GiB."""
    return f"{min(12, 4 + 2 * (size // 100_000) + (2 if size % 100_000 >= 50_000 else 0))}g"


def same_tables(local: dict[str, Any], spark: dict[str, Any]) -> dict[str, bool]:
    """Which output tables are identical (source paths included: both read the same files)."""
    return {name: local[name].equals(spark[name]) for name in local}


def row(label: str, *cells: str) -> str:
    return f"{label:<22}" + "".join(f"{c:>12}" for c in cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "stories")
    parser.add_argument("--corpus", type=Path, default=ROOT / "bench-results" / "spark-corpus-scale")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", help="spark.driver.memory (default: by --size)")
    parser.add_argument("--json", type=Path, default=RESULTS, help="results file (one entry per size)")
    parser.add_argument(
        "--paraphrase-model",
        default="none",
        help="the paraphrase check's model for both engines (default none: both run the same "
        "canonicalise code, and on this rewrite-heavy corpus the check would dominate both)",
    )
    args = parser.parse_args()
    corpus = args.corpus / str(args.size)
    if not corpus.is_dir():
        generate(args.data, args.size, corpus)
    options = PipelineOptions(paraphrase_model=args.paraphrase_model)
    load_before = os.getloadavg()

    with PeakMemory() as local_memory:
        started = time.perf_counter()
        local = run_pipeline([str(corpus)], options)
        built = build_tables(local.documents, local.stories, local.rejects, local.grouping.edges)
        local_tables = {name: as_table(table) for name, table in built.items()}
        local_seconds = time.perf_counter() - started
    n_docs, n_stories = len(local.documents), len(local.stories)
    local_counts = {"candidates": local.grouping.n_candidates, "verified": len(local.grouping.edges)}
    local_timings = dict(local.timings)
    del local
    gc.collect()

    driver_memory = args.driver_memory or default_driver_memory(args.size)
    with PeakMemory() as spark_memory:
        started = time.perf_counter()
        spark = get_session(args.master, config={"spark.driver.memory": driver_memory})
        session_seconds = time.perf_counter() - started
        workers_seconds = start_workers(spark)
        run = run_spark([str(corpus)], options, "coverage", spark)
        collect_started = time.perf_counter()
        spark_tables = run.collect_tables()
        run.timings["collect"] = time.perf_counter() - collect_started
        spark_seconds = time.perf_counter() - started
    settings = {
        "master": args.master,
        "spark.driver.memory": driver_memory,
        "spark.sql.shuffle.partitions": spark.conf.get("spark.sql.shuffle.partitions"),
        "spark.sql.execution.arrow.maxRecordsPerBatch": spark.conf.get(
            "spark.sql.execution.arrow.maxRecordsPerBatch", str(ARROW_BATCH_ROWS)
        ),
        "verify_groups": verify_groups(spark),
    }
    identical = same_tables(local_tables, spark_tables)
    spark.stop()

    spark_stages = {"session start": session_seconds, "python workers": workers_seconds, **run.timings}
    print(
        f"{args.size} generated articles -> {n_docs} documents, {n_stories} stories; "
        f"{local_counts['candidates']} candidate pairs, {local_counts['verified']} verified "
        f"(spark: {run.n_candidates}, {run.n_verified}); paraphrase model: {options.paraphrase_model}"
    )
    print(
        f"machine: {os.cpu_count()} cores, load average {load_before[0]:.1f} at start, "
        f"{os.getloadavg()[0]:.1f} at end; spark settings: {settings}"
    )
    print(row("", "local", f"spark {args.master}", "spark/local"))
    ratio = spark_seconds / local_seconds
    print(row("wall seconds", f"{local_seconds:.1f}", f"{spark_seconds:.1f}", f"{ratio:.2f}x"))
    print(row("documents / second", f"{n_docs / local_seconds:.0f}", f"{n_docs / spark_seconds:.0f}", ""))
    print(row("peak RSS, GiB", f"{local_memory.gib:.2f}", f"{spark_memory.gib:.2f}", ""))
    print(row("stage seconds:", "", "", ""))
    for stage in ("session start", "python workers", *STAGES):
        local_s = local_timings.get(stage)
        spark_s = spark_stages.get(stage, 0.0)
        print(
            row(
                f"  {stage}",
                "" if local_s is None else f"{local_s:.1f}",
                f"{spark_s:.1f}",
                "" if not local_s else f"{spark_s / local_s:.2f}x",
            )
        )
    print(f"identical tables: {all(identical.values())} {identical}")

    results = json.loads(args.json.read_text()) if args.json.is_file() else {}
    results[str(args.size)] = {
        "articles": args.size,
        "documents": n_docs,
        "stories": n_stories,
        "candidate_pairs": local_counts["candidates"],
        "verified_pairs": local_counts["verified"],
        "local": {
            "seconds": round(local_seconds, 2),
            "docs_per_second": round(n_docs / local_seconds, 1),
            "peak_rss_gib": round(local_memory.gib, 2),
            "stages": {k: round(v, 2) for k, v in local_timings.items()},
        },
        "spark": {
            "seconds": round(spark_seconds, 2),
            "docs_per_second": round(n_docs / spark_seconds, 1),
            "peak_rss_gib": round(spark_memory.gib, 2),
            "stages": {k: round(v, 2) for k, v in spark_stages.items()},
            "settings": settings,
        },
        "paraphrase_model": options.paraphrase_model,
        "spark_over_local": round(spark_seconds / local_seconds, 3),
        "identical_tables": identical,
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_start": round(load_before[0], 2),
            "load_average_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
        },
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
