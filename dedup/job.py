"""A run as one well-behaved step of a larger pipeline: skip when already done, run the engine,
write every table and the manifest, publish atomically."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from dedup.config import PipelineOptions
from dedup.engines.local import run_pipeline
from dedup.manifest import build_manifest, input_fingerprint
from dedup.output import MANIFEST_FILE, build_tables, prepare_output, publish

log = logging.getLogger("dedup")


@dataclass(frozen=True)
class JobOutcome:
    manifest: dict[str, Any]
    skipped: bool  # the outputs already matched these inputs and parameters

    @property
    def reject_rate(self) -> float:
        counts = self.manifest["counts"]
        return counts["rejects"] / counts["input_records"] if counts["input_records"] else 0.0


def run_key(fingerprint: dict[str, Any], options: PipelineOptions, policy: str) -> str:
    """Digest of everything that determines the outputs: inputs, parameters, code version."""
    from dedup import __version__
    from dedup.records import SCHEMA_VERSION

    payload = {
        "inputs": fingerprint["xxh3_128"],
        "parameters": {**options.to_dict(), "workers": None, "canonical_policy": policy},
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
    }
    return xxhash.xxh3_128_hexdigest(json.dumps(payload, sort_keys=True).encode("utf-8"))


def _previous_manifest(out_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((out_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_job(
    inputs: Sequence[str],
    out_dir: Path,
    options: PipelineOptions,
    policy: str = "coverage",
    force: bool = False,
) -> JobOutcome:
    """Run the pipeline over ``inputs`` into ``out_dir`` unless it already holds this run."""
    prepare_output(out_dir)
    fingerprint = input_fingerprint(inputs)
    key = run_key(fingerprint, options, policy)
    previous = _previous_manifest(out_dir)
    if not force and previous is not None and previous.get("run_key") == key:
        log.info("outputs in %s are up to date (run key %s)", out_dir, key)
        return JobOutcome(previous, skipped=True)
    result = run_pipeline(list(inputs), options, policy)
    tables = build_tables(result.documents, result.stories, result.rejects, result.grouping.edges)
    manifest = build_manifest(
        result, inputs, fingerprint, options, policy, {k: t.num_rows for k, t in tables.items()}
    )
    manifest["run_key"] = key
    publish(out_dir, tables, manifest)
    return JobOutcome(manifest, skipped=False)
