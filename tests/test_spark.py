"""The Spark engine (local[2], for real) gives the local engine's outputs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import SEEDS, SHARED, requires_shared
from dedup.config import PipelineOptions
from dedup.job import run_job
from dedup.output import TABLE_FILES

pyspark = pytest.importorskip("pyspark", reason="the Spark engine needs pip install 'newsdedup[spark]'")

from dedup.engines.spark import get_session, run_spark  # noqa: E402


@pytest.fixture(scope="module")
def spark() -> Iterator[pyspark.sql.SparkSession]:
    session = get_session("local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "4")
    yield session
    session.stop()


def run_both(inputs: list[str], tmp_path: Path) -> tuple[Path, Path]:
    local, spark_out = tmp_path / "local", tmp_path / "spark"
    run_job(inputs, local, PipelineOptions())
    run_job(inputs, spark_out, PipelineOptions(), engine="spark")
    return local, spark_out


def assert_same_outputs(local: Path, spark_out: Path, loose: tuple[str, ...] = ()) -> None:
    """Every table equal, except the ``loose`` (table.column) values, which may differ."""
    for name, file in TABLE_FILES.items():
        expected, got = pq.read_table(local / file), pq.read_table(spark_out / file)
        assert got.schema.equals(expected.schema), name
        columns = [c for c in expected.column_names if f"{name}.{c}" not in loose]
        assert got.select(columns).to_pylist() == expected.select(columns).to_pylist(), name
    manifests = [json.loads((out / "manifest.json").read_text()) for out in (local, spark_out)]
    assert manifests[1]["engine"] == "spark"
    assert manifests[1].keys() == manifests[0].keys()
    assert manifests[1]["counts"] == manifests[0]["counts"]
    assert manifests[1]["accounting_ok"]


def test_seeds_match_the_local_engine(spark: pyspark.sql.SparkSession, tmp_path: Path) -> None:
    assert_same_outputs(*run_both([str(SEEDS)], tmp_path))


def test_mixed_formats_and_rejects_match(
    spark: pyspark.sql.SparkSession, mixed_dir: Path, tmp_path: Path
) -> None:
    """Every format, every kind of reject, a duplicate id across files."""
    (mixed_dir / "again.jsonl").write_text(json.dumps({"id": "j1", "text": "a copy"}) + "\n")
    assert_same_outputs(*run_both([str(mixed_dir)], tmp_path))


def test_uri_inputs_are_read_through_spark(spark: pyspark.sql.SparkSession, tmp_path: Path) -> None:
    """A URI (here file://) is listed and read by Spark, as s3a:// or hdfs:// would be."""
    local = tmp_path / "local"
    run_job([str(SEEDS)], local, PipelineOptions())
    tables = run_spark([SEEDS.resolve().as_uri()], PipelineOptions(), "coverage", spark).collect_tables()
    expected = pq.read_table(local / TABLE_FILES["documents"]).drop_columns(["source_path"])
    assert tables["documents"].drop_columns(["source_path"]).to_pylist() == expected.to_pylist()
    assert all(p.startswith("file:/") for p in tables["documents"]["source_path"].to_pylist())
    for name in ("clusters", "additions", "pairs"):
        assert tables[name].to_pylist() == pq.read_table(local / TABLE_FILES[name]).to_pylist(), name


@requires_shared
@pytest.mark.parametrize("labelled", ["giveme5w1h.jsonl", "basil.jsonl"])
def test_labelled_sets_match(spark: pyspark.sql.SparkSession, tmp_path: Path, labelled: str) -> None:
    """Hundreds of articles in dozens of stories: same stories, canonicals and additions.

    A story's title falls back to the most similar member's when the canonical has none;
    two copies equally similar to it tie, and the tie follows the last bit of a float sum
    whose term order depends on which documents share a Verifier (one giveme5w1h story)."""
    path = SHARED / "data" / "stories" / labelled
    assert_same_outputs(*run_both([str(path)], tmp_path), loose=("clusters.title",))
