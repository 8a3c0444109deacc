"""Example Apache Airflow DAG: a daily newsdedup batch as one boring, retry-safe task.

Each day's articles land in ``<input root>/<YYYY-MM-DD>/``; the task groups them into stories,
joins them to earlier days' stories through the state folder, and writes the day's tables to
``<output root>/<YYYY-MM-DD>/``. The CLI does the heavy lifting, so the DAG stays a thin shell:

- retries are safe: a rerun with the same inputs is a no-op, a crash never leaves
  half-written outputs;
- exit code 3 (too many rejected inputs, over ``--max-reject-rate``) fails the task so a
  person looks at ``rejects.parquet``; 1 (failure) and 2 (usage) fail it too;
- logs are JSON lines for the log collector.

Configure with environment variables (or edit the defaults below):
NEWSDEDUP_BIN (the ``dedup`` executable), NEWSDEDUP_INPUT_ROOT, NEWSDEDUP_OUTPUT_ROOT,
NEWSDEDUP_STATE_DIR, NEWSDEDUP_MAX_REJECT_RATE.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG

DEDUP = os.environ.get("NEWSDEDUP_BIN", "dedup")
INPUT_ROOT = os.environ.get("NEWSDEDUP_INPUT_ROOT", "/data/news/incoming")
OUTPUT_ROOT = os.environ.get("NEWSDEDUP_OUTPUT_ROOT", "/data/news/stories")
STATE_DIR = os.environ.get("NEWSDEDUP_STATE_DIR", "/data/news/newsdedup-state")
MAX_REJECT_RATE = os.environ.get("NEWSDEDUP_MAX_REJECT_RATE", "0.2")

with DAG(
    dag_id="newsdedup_daily",
    description="Group the day's news articles into stories with newsdedup",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # days share one state folder: run them in order
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    tags=["news", "dedup"],
) as dag:
    BashOperator(
        task_id="dedup_batch",
        bash_command=(
            f'"{DEDUP}" run "{INPUT_ROOT}/{{{{ ds }}}}" --out "{OUTPUT_ROOT}/{{{{ ds }}}}" '
            f'--state "{STATE_DIR}" --max-reject-rate {MAX_REJECT_RATE} --log-format json'
        ),
    )
