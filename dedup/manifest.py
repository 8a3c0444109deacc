"""The run manifest: what went in, what came out, with which parameters and versions.

It is the machine-readable summary a scheduler reads (counts, timings) and the record that
makes saved outputs comparable (schema version, MinHash scheme and parameters).
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import xxhash

from dedup import __version__
from dedup.config import PipelineOptions
from dedup.engines.local import PipelineResult
from dedup.ingest import discover_inputs
from dedup.records import SCHEMA_VERSION


def input_fingerprint(inputs: Sequence[str]) -> dict[str, Any]:
    """A digest of every input file's id and bytes: equal digests mean equal inputs."""
    digest = xxhash.xxh3_128()
    n_bytes = 0
    files = discover_inputs(list(inputs))
    for item in sorted(files, key=lambda f: f.doc_id):
        data = item.path.read_bytes()
        n_bytes += len(data)
        digest.update(item.doc_id.encode("utf-8") + b"\0" + xxhash.xxh3_128_digest(data))
    return {"files": len(files), "bytes": n_bytes, "xxh3_128": digest.hexdigest()}


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "newsdedup": __version__}
    for package in ("datasketch", "trafilatura", "pyarrow", "numpy", "scipy"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


def build_manifest(
    result: PipelineResult,
    inputs: Sequence[str],
    fingerprint: dict[str, Any],
    options: PipelineOptions,
    policy: str,
    table_rows: dict[str, int],
) -> dict[str, Any]:
    reasons = Counter(r.reason for r in result.rejects)
    multi = [s for s in result.stories if len(s.members) > 1]
    return {
        "tool": "newsdedup",
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "engine": "local",
        "inputs": {"paths": [str(p) for p in inputs], **fingerprint},
        "parameters": {**options.to_dict(), "canonical_policy": policy},
        "counts": {
            "input_files": result.input_files,
            "input_records": result.input_records,
            "documents": len(result.documents),
            "rejects": len(result.rejects),
            "rejects_by_reason": dict(sorted(reasons.items())),
            "candidate_pairs": result.grouping.n_candidates,
            "verified_pairs": len(result.grouping.edges),
            "clusters": len(result.stories),
            "multi_document_clusters": len(multi),
            "documents_in_multi_document_clusters": sum(len(s.members) for s in multi),
            "additions": table_rows["additions"],
        },
        "accounting_ok": result.input_records == len(result.documents) + len(result.rejects),
        "tables": table_rows,
        "timings_seconds": {k: round(v, 3) for k, v in result.timings.items()},
        "versions": _versions(),
    }
