"""HTML end to end: ``dedup run`` over a folder of web pages against trafilatura alone.

    python benchmarks/html_throughput.py [--data ../shared/data/extraction] [--procs 2] [--repeat 1]
                                         [--rounds 1]

Both contenders run in one invocation, each in a fresh process (interpreter start and imports
included) over the same folder of the extraction sets' pages (181 + 990, written as ``.html``
files, ``--repeat`` times under distinct names):

- ``trafilatura``: ``trafilatura.extract`` of every file's bytes on ``--procs`` processes, the
  text kept in memory (no metadata, no grouping, no output);
- ``ours``: ``dedup run FOLDER --out DIR --workers PROCS`` (extraction with metadata, every
  grouping stage, canonical texts, Parquet tables, manifest).

Prints pages/s of each and their ratio (ours / trafilatura; the issue's goal is >= 0.9), plus
our stage times; writes JSON. The machine is shared: compare the ratio within one invocation.
``--rounds N`` runs each contender N times, alternating which goes first, and reports each
one's median time and the median of the rounds' ratios (one run's ratio moves by +-0.05).
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from multiprocessing import Pool
from pathlib import Path

import trafilatura

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.extraction import load_pages  # noqa: E402


def write_pages(data: Path, folder: Path, repeat: int) -> int:
    """The extraction sets' pages as ``.html`` files (byte for byte); how many were written."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = [page for set_pages in load_pages(data).values() for page in set_pages]
    for r in range(repeat):
        for k, page in enumerate(pages):
            (folder / f"r{r}-{k:05d}.html").write_bytes(page["raw"])
    return len(pages) * repeat


def _quiet() -> None:
    logging.disable(logging.CRITICAL)
    warnings.filterwarnings("ignore")


def _extract_file(path: str) -> int:
    return len(trafilatura.extract(Path(path).read_bytes()) or "")


def trafilatura_alone(folder: Path, procs: int) -> int:
    """trafilatura over every file on ``procs`` processes: the number of pages with a body."""
    files = sorted(str(p) for p in folder.glob("*.html"))
    with Pool(procs, initializer=_quiet) as pool:
        return sum(1 for n in pool.imap(_extract_file, files, chunksize=8) if n)


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{done.stderr[-3000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "extraction")
    parser.add_argument("--procs", type=int, default=2, help="processes of each contender")
    parser.add_argument("--repeat", type=int, default=1, help="copies of the page set (distinct names)")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each contender, alternating")
    parser.add_argument("--paraphrase-model", default="auto", help="passed to dedup run")
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results" / "html_throughput.json")
    parser.add_argument("--trafilatura", type=Path, help=argparse.SUPPRESS)  # child process: run it
    args = parser.parse_args()
    if args.trafilatura:
        print(trafilatura_alone(args.trafilatura, args.procs))
        return
    if not args.data.is_dir():
        sys.exit(f"extraction data not found at {args.data} (pass --data)")
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "pages", Path(tmp) / "out"
        n_pages = write_pages(args.data, folder, args.repeat)
        commands = {
            "trafilatura": [
                *(sys.executable, __file__, "--trafilatura", str(folder)),
                *("--procs", str(args.procs)),
            ],
            "ours": [
                str(Path(sys.executable).parent / "dedup"),
                *("run", str(folder), "--out", str(out), "--force", "-q"),
                *("--workers", str(args.procs), "--paraphrase-model", args.paraphrase_model),
            ],
        }
        # Rounds alternate which contender goes first: a slow spell of the shared machine does
        # not always fall on the same one.
        rounds: dict[str, list[float]] = {"trafilatura": [], "ours": []}
        for r in range(max(args.rounds, 1)):
            for name in ("trafilatura", "ours") if r % 2 == 0 else ("ours", "trafilatura"):
                rounds[name].append(timed(commands[name]))
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    seconds = {name: statistics.median(times) for name, times in rounds.items()}
    rate = {name: n_pages / s for name, s in seconds.items()}
    ratios = [t / o for t, o in zip(rounds["trafilatura"], rounds["ours"], strict=True)]
    ratio = statistics.median(ratios)
    print(f"{n_pages} pages, {args.procs} processes each, {len(ratios)} round(s)")
    print(f"{'contender':<12} {'seconds':>8} {'pages/s':>8}")
    for name in seconds:
        print(f"{name:<12} {seconds[name]:>8.1f} {rate[name]:>8.1f}")
    per_round = f" (rounds: {', '.join(f'{x:.2f}' for x in ratios)})" if len(ratios) > 1 else ""
    print(f"ours / trafilatura pages/s: {ratio:.2f}{per_round}")
    stages = manifest.get("timings_seconds", {})
    print("ours stages (s, last round): " + " ".join(f"{k}={v:.1f}" for k, v in stages.items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "pages": n_pages,
        "procs": args.procs,
        "rounds": len(ratios),
        "seconds": seconds,
        "seconds_per_round": rounds,
        "pages_per_second": rate,
        "ratio_ours_to_trafilatura": ratio,
        "ratio_per_round": ratios,
        "stages": stages,
        "counts": manifest.get("counts", {}),
    }
    args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
