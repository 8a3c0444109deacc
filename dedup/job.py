"""A run as one well-behaved step of a larger pipeline: skip when already done, run the engine,
write every table and the manifest, publish atomically."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from dedup.config import PipelineOptions
from dedup.engines.incremental import run_incremental
from dedup.engines.local import pool_workers, run_pipeline
from dedup.manifest import RunCounts, build_manifest, input_fingerprint
from dedup.output import (
    MANIFEST_FILE,
    as_table,
    build_tables,
    prepare_output,
    publish,
    staging_folder,
    swap_in,
)
from dedup.processes import run_collection_thresholds
from dedup.state import State, compatibility, load_state, write_state

log = logging.getLogger("dedup")


@dataclass(frozen=True)
class JobOutcome:
    manifest: dict[str, Any]
    skipped: bool  # the outputs already matched these inputs and parameters

    @property
    def reject_rate(self) -> float:
        counts = self.manifest["counts"]
        return counts["rejects"] / counts["input_records"] if counts["input_records"] else 0.0


def run_key(
    fingerprint: dict[str, Any], options: PipelineOptions, policy: str, incremental: bool = False
) -> str:
    """Digest of everything that determines the outputs: inputs, parameters, code version."""
    from dedup import __version__
    from dedup.records import SCHEMA_VERSION

    payload = {
        "inputs": fingerprint["xxh3_128"],
        "parameters": {**options.to_dict(), "workers": None, "canonical_policy": policy},
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "incremental": incremental,
    }
    return xxhash.xxh3_128_hexdigest(json.dumps(payload, sort_keys=True).encode("utf-8"))


def _previous_manifest(out_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@run_collection_thresholds()
def run_job(
    inputs: Sequence[str],
    out_dir: Path,
    options: PipelineOptions,
    policy: str = "coverage",
    force: bool = False,
    engine: str = "local",
    spark_master: str | None = None,
    state_dir: Path | None = None,
) -> JobOutcome:
    """Run the pipeline over ``inputs`` into ``out_dir`` unless it already holds this run.
    Both engines give the same outputs, so the engine is not part of the run key.

    With ``state_dir`` the inputs are one batch of an incremental series (see
    dedup/engines/incremental.py): the run is a no-op only when both the outputs and the
    state already hold it, and the state is swapped in after the outputs, so a crash between
    the two leaves a state without this batch and the rerun redoes it.
    """
    prepare_output(out_dir)
    fingerprint = input_fingerprint(inputs)
    key = run_key(fingerprint, options, policy, incremental=state_dir is not None)
    previous = _previous_manifest(out_dir)
    state = None
    if state_dir is not None:
        prepare_output(state_dir, "--state")
        state = load_state(
            state_dir, compatibility(asdict(options.minhash), [asdict(v) for v in options.views])
        )
    done = previous is not None and previous.get("run_key") == key
    if state is not None:
        done = done and state.meta.get("last_run_key") == key
    if done and not force:
        log.info("outputs in %s are up to date (run key %s)", out_dir, key)
        return JobOutcome(previous, skipped=True)
    if state is not None and state_dir is not None:
        return _run_incremental(inputs, out_dir, state_dir, state, fingerprint, key, options, policy)
    if engine == "spark":
        from dedup.engines.spark import get_session, run_spark_tables

        tables, manifest = run_spark_tables(inputs, fingerprint, options, policy, get_session(spark_master))
    else:
        result = run_pipeline(list(inputs), options, policy)
        tables = build_tables(result.documents, result.stories, result.rejects, result.grouping.edges)
        manifest = build_manifest(
            RunCounts.of(result),
            inputs,
            fingerprint,
            options,
            policy,
            {k: t.num_rows for k, t in tables.items()},
        )
    manifest["run_key"] = key
    publish(out_dir, tables, manifest, pool_workers(options))
    return JobOutcome(manifest, skipped=False)


def _run_incremental(
    inputs: Sequence[str],
    out_dir: Path,
    state_dir: Path,
    state: State,
    fingerprint: dict[str, Any],
    key: str,
    options: PipelineOptions,
    policy: str,
) -> JobOutcome:
    run = run_incremental(list(inputs), options, state, key, policy)
    result = run.result
    tables = build_tables(
        run.docs, result.stories, result.rejects, result.grouping.edges, run.story_of, run.merges
    )
    # The documents table lists this batch; earlier members of touched stories are in the state.
    documents = as_table(tables["documents"])
    batch = pa.array(sorted(run.new_doc_ids), pa.string())
    tables["documents"] = documents.filter(pc.is_in(documents["doc_id"], batch))
    manifest = build_manifest(
        RunCounts.of(result), inputs, fingerprint, options, policy, {k: t.num_rows for k, t in tables.items()}
    )
    manifest["run_key"] = key
    manifest["state"] = {
        "folder": str(state_dir),
        "documents_before": state.n_documents,
        "documents_after": run.state.n_documents,
        "merges": len(run.merges),
    }
    staging = staging_folder(state_dir)
    try:
        write_state(run.state, staging)
        publish(out_dir, tables, manifest)
        swap_in(staging, state_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return JobOutcome(manifest, skipped=False)
