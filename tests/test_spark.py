"""The Spark engine (local[2], for real) gives the local engine's outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, SEEDS, SHARED, requires_shared
from dedup.config import PipelineOptions
from dedup.job import run_job
from dedup.output import TABLE_FILES

pyspark = pytest.importorskip("pyspark", reason="the Spark engine needs pip install 'newsdedup[spark]'")

from dedup.engines.spark import VERIFY_GROUPS_CONF, get_session, run_spark  # noqa: E402


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


def assert_same_outputs(local: Path, spark_out: Path) -> None:
    """Every table equal, value for value, and the same manifest counts."""
    for name, file in TABLE_FILES.items():
        expected, got = pq.read_table(local / file), pq.read_table(spark_out / file)
        assert got.schema.equals(expected.schema), name
        assert got.to_pylist() == expected.to_pylist(), name
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
    """A URI (here file://) is listed and read by Spark, as s3a:// or hdfs:// would be. With
    more verification groups than cores (documents needed by several groups, groups with no
    pair), the pairs are the same."""
    local = tmp_path / "local"
    run_job([str(SEEDS)], local, PipelineOptions())
    spark.conf.set(VERIFY_GROUPS_CONF, "3")
    try:
        tables = run_spark([SEEDS.resolve().as_uri()], PipelineOptions(), "coverage", spark).collect_tables()
    finally:
        spark.conf.unset(VERIFY_GROUPS_CONF)
    expected = pq.read_table(local / TABLE_FILES["documents"]).drop_columns(["source_path"])
    assert tables["documents"].drop_columns(["source_path"]).to_pylist() == expected.to_pylist()
    assert all(p.startswith("file:/") for p in tables["documents"]["source_path"].to_pylist())
    for name in ("clusters", "additions", "pairs"):
        assert tables[name].to_pylist() == pq.read_table(local / TABLE_FILES[name]).to_pylist(), name


@requires_shared
@pytest.mark.parametrize("labelled", ["giveme5w1h.jsonl", "basil.jsonl"])
def test_labelled_sets_match(spark: pyspark.sql.SparkSession, tmp_path: Path, labelled: str) -> None:
    """Hundreds of articles in dozens of stories: same stories, canonicals and additions, and
    the same float64 similarities bit for bit (every Verifier numbers terms in corpus order),
    so no tie or threshold can fall differently."""
    path = SHARED / "data" / "stories" / labelled
    assert_same_outputs(*run_both([str(path)], tmp_path))


def spark_submit() -> str | None:
    """spark-submit as pip installs it: beside this Python, or in the pyspark package's bin/."""
    for candidate in (
        Path(sys.executable).with_name("spark-submit"),
        Path(pyspark.__file__).parent / "bin" / "spark-submit",
    ):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("spark-submit")


@pytest.mark.parametrize("uri_out", [False, True], ids=["path-out", "uri-out"])
def test_spark_submit_job(tmp_path: Path, uri_out: bool) -> None:
    """pipelines/spark_job.py for real under spark-submit (local[2]): a local --out is published
    like `dedup run`; a URI --out (here file://, as s3a:// or hdfs:// on a cluster) is written
    by Spark as a folder of part files per table. pyarrow reads both back; both equal the local
    engine's tables."""
    submit = spark_submit()
    if submit is None:
        pytest.skip("spark-submit not found (pip install 'newsdedup[spark]' ships it with pyspark)")
    local = tmp_path / "local"
    run_job([str(SEEDS)], local, PipelineOptions())
    out = tmp_path / "submitted"
    command = [
        submit,
        "--master",
        "local[2]",
        "--conf",
        "spark.sql.shuffle.partitions=4",
        "--conf",
        "spark.ui.enabled=false",
        str(ROOT / "pipelines" / "spark_job.py"),
        str(SEEDS),
        "--out",
        out.as_uri() if uri_out else str(out),
    ]
    # The driver and the Python workers run this interpreter (it has newsdedup installed).
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-5000:]
    for name, file in TABLE_FILES.items():
        assert (out / file).is_dir() == uri_out, name
        got, expected = pq.read_table(out / file), pq.read_table(local / file)
        assert got.column_names == expected.column_names, name
        assert got.to_pylist() == expected.to_pylist(), name
    manifest = json.loads((out / "manifest.json").read_text())
    expected_manifest = json.loads((local / "manifest.json").read_text())
    assert manifest["engine"] == "spark"
    assert manifest["counts"] == expected_manifest["counts"]
    assert manifest["inputs"]["xxh3_128"] == expected_manifest["inputs"]["xxh3_128"]
    assert manifest["accounting_ok"]
