"""The example Airflow DAG, run for real with Airflow's ``dag.test()`` in Airflow's own
environment (``make test`` installs it in .venv-airflow; skipped only where it is absent)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import ROOT, SEEDS

AIRFLOW_PYTHON = Path(os.environ.get("NEWSDEDUP_AIRFLOW_PYTHON", ROOT / ".venv-airflow" / "bin" / "python"))
DEDUP = Path(sys.executable).with_name("dedup")

pytestmark = pytest.mark.skipif(
    not AIRFLOW_PYTHON.exists(), reason=f"Apache Airflow's environment is not installed ({AIRFLOW_PYTHON})"
)

RUN_DAG = textwrap.dedent(
    """
    import importlib.util, sys
    import pendulum
    spec = importlib.util.spec_from_file_location("airflow_dag", sys.argv[1])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    day = pendulum.parse(sys.argv[2])
    run = module.dag.test(logical_date=day)
    print("DAG_RUN_STATE", run.state)
    """
)


def _airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(AIRFLOW_PYTHON), *args], env=env, capture_output=True, text=True, timeout=600)


def test_daily_dag_runs_incremental_batches(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "pipelines" / "airflow_dag.py", dags / "airflow_dag.py")
    incoming, stories, state = tmp_path / "incoming", tmp_path / "stories", tmp_path / "state"
    days = {"2026-11-20": ["000", "001", "002"], "2026-11-21": ["003", "004"]}
    for day, prefixes in days.items():
        (incoming / day).mkdir(parents=True)
        for seed in sorted(SEEDS.glob("*.txt")):
            if seed.name[:3] in prefixes:
                shutil.copy(seed, incoming / day / seed.name)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "NEWSDEDUP_BIN": str(DEDUP),
        "NEWSDEDUP_INPUT_ROOT": str(incoming),
        "NEWSDEDUP_OUTPUT_ROOT": str(stories),
        "NEWSDEDUP_STATE_DIR": str(state),
    }
    for step in (["-m", "airflow", "db", "migrate"], ["-m", "airflow", "dags", "reserialize"]):
        done = _airflow(env, *step)
        assert done.returncode == 0, done.stderr[-3000:]
    for day in days:
        done = _airflow(env, "-c", RUN_DAG, str(dags / "airflow_dag.py"), day)
        assert "DAG_RUN_STATE success" in done.stdout, (done.stdout + done.stderr)[-4000:]
    # Day two's articles joined day one's story: one story id across both days.
    first = pq.read_table(stories / "2026-11-20" / "documents.parquet").to_pylist()
    second = pq.read_table(stories / "2026-11-21" / "documents.parquet").to_pylist()
    assert len(first) == 3 and len(second) == 2
    assert len({d["cluster_id"] for d in first + second}) == 1
    (story,) = pq.read_table(stories / "2026-11-21" / "clusters.parquet").to_pylist()
    assert story["size"] == 5
    manifest = json.loads((stories / "2026-11-21" / "manifest.json").read_text())
    assert manifest["counts"]["documents"] == 2
