"""newsdedup as a Spark application, for spark-submit on a cluster.

    spark-submit --master yarn pipelines/spark_job.py s3a://news/2026-01-01/ --out s3a://stories/2026-01-01

Inputs and the output may be any URI Spark understands (s3a://, hdfs://, gs://, file://) or
a local path. A local --out is published like `dedup run` (atomic swap, no-op rerun on
unchanged inputs); a URI --out is written by Spark, one folder of part files per table (see
dedup.engines.spark.publish_uri for what is atomic where).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from dedup.canonical import CANONICAL_POLICIES
from dedup.config import PipelineOptions
from dedup.engines.spark import get_session, is_uri, publish_uri, run_spark, spark_manifest, uri_fingerprint
from dedup.job import run_job
from dedup.logs import setup_logging


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Group news articles into stories on Apache Spark.")
    parser.add_argument("inputs", nargs="+", help="input folders or files (paths or URIs)")
    parser.add_argument("--out", required=True, help="output folder (path or URI)")
    parser.add_argument("--min-words", type=int, default=PipelineOptions.min_words)
    parser.add_argument("--canonical-policy", choices=CANONICAL_POLICIES, default="coverage")
    parser.add_argument("--force", action="store_true", help="rerun even if a local --out is up to date")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    setup_logging(logging.INFO, "json")
    options = PipelineOptions(min_words=args.min_words)
    spark = get_session(None)  # the master and resources come from spark-submit
    if not is_uri(args.out) and not any(is_uri(p) for p in args.inputs):
        run_job(args.inputs, Path(args.out), options, args.canonical_policy, force=args.force, engine="spark")
        return
    run = run_spark(args.inputs, options, args.canonical_policy, spark)
    frames = run.table_frames()
    sizes = {r["size"]: r["count"] for r in frames["clusters"].groupBy("size").count().collect()}
    table_rows = {name: frame.count() for name, frame in frames.items()}
    fingerprint = uri_fingerprint(spark, args.inputs)
    manifest = spark_manifest(
        run, args.inputs, fingerprint, options, args.canonical_policy, sizes, table_rows
    )
    publish_uri(spark, args.out, frames, manifest)


if __name__ == "__main__":
    main()
