"""Ingest: find input files and read them into ``SourceRecord``s (or ``Reject``s)."""

from dedup.ingest.discover import InputFile, discover_inputs
from dedup.ingest.read import decoded, read_input

__all__ = ["InputFile", "decoded", "discover_inputs", "read_input"]
