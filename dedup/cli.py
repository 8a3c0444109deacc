"""Command line: parsing and reporting only; the work happens in the engine and stages."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from dedup import __version__
from dedup.canonical import CANONICAL_POLICIES
from dedup.config import PipelineOptions
from dedup.ingest.discover import InputError
from dedup.logs import setup_logging
from dedup.output import OutputError
from dedup.state import StateError

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REJECTS = 0, 1, 2, 3
log = logging.getLogger("dedup")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="newsdedup")
def main() -> None:
    """newsdedup: find the news articles that tell the same story.

    Reads corpus folders of HTML pages, text/Markdown files, JSON Lines and Parquet
    (optionally .gz), extracts clean article text, groups versions of one story (copies,
    trimmed copies, rewrites), picks a canonical version per story and records what every
    other version adds. Results are Parquet tables plus a manifest.json.

    \b
    Typical use:
      dedup run corpus/ --out out/      group a corpus, write out/*.parquet
      dedup show <cluster_id>           print one story from out/
      dedup eval labels.jsonl out/      score the grouping against gold story labels
      dedup schema                      the output tables and their columns
    """


@main.command()
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True, readable=True, path_type=str))
@click.option(
    "--out",
    "out_dir",
    default="out",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Output folder; replaced atomically when the run succeeds.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes for extraction; 0 = one per CPU core.",
)
@click.option(
    "--min-words",
    type=click.IntRange(min=1),
    default=PipelineOptions.min_words,
    show_default=True,
    help="Documents with fewer words of article text are rejected as 'no_article'.",
)
@click.option(
    "--paraphrase-model",
    type=click.Choice(["auto", "none", "all-MiniLM-L6-v2"]),
    default="auto",
    show_default=True,
    help="Semantic check that drops paraphrases from sentence additions; auto = use it when the "
    "'semantic' extra is installed, none = lexical alignment only (much faster on rewrites).",
)
@click.option(
    "--canonical-policy",
    type=click.Choice(CANONICAL_POLICIES),
    default="coverage",
    show_default=True,
    help="How each story's representative is chosen (see README).",
)
@click.option(
    "--engine",
    type=click.Choice(["local", "spark"]),
    default="local",
    show_default=True,
    help="local: this machine; spark: Apache Spark (pip install 'newsdedup[spark]', Java 17+).",
)
@click.option(
    "--spark-master",
    default="local[*]",
    show_default=True,
    help="Spark master URL for --engine spark (e.g. spark://host:7077, yarn).",
)
@click.option(
    "--state",
    "state_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State folder of an incremental series: INPUTS are one batch, matched against every "
    "earlier batch's stories (created on first use).",
)
@click.option("--force", is_flag=True, help="Run even if --out already holds the outputs of these inputs.")
@click.option(
    "--max-reject-rate",
    type=click.FloatRange(0.0, 1.0),
    default=None,
    help="Exit with code 3 (outputs still written) when rejects / inputs exceeds this share.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json: one JSON object per log line on stderr, for log collectors.",
)
def run(
    inputs: tuple[str, ...],
    out_dir: Path,
    workers: int,
    min_words: int,
    paraphrase_model: str,
    canonical_policy: str,
    engine: str,
    spark_master: str,
    state_dir: Path | None,
    force: bool,
    max_reject_rate: float | None,
    verbose: int,
    quiet: bool,
    log_format: str,
) -> None:
    """Group INPUTS (folders, walked recursively, or files) into stories and write the tables.

    \b
    Formats, by extension or content: .html/.htm/.xhtml, .txt/.md, .jsonl/.json
    (fields id, title, text or html, url, date, source), .parquet (same columns),
    .warc/.warc.gz (HTML responses), and any of them compressed as .gz or .zst.
    A file's doc_id is its path relative to the INPUT folder.

    \b
    Writes to --out: documents.parquet, clusters.parquet, additions.parquet,
    pairs.parquet, rejects.parquet and manifest.json, all at once (a failed run leaves
    the previous outputs untouched). Inputs that cannot become documents (binary, empty,
    undecodable, malformed, no article text) are listed in rejects.parquet with a
    reason; the run still succeeds. Rerunning with the same inputs and parameters is a
    no-op unless --force.

    \b
    With --state DIR, INPUTS are one batch of a series (say, a day): its articles join
    the stories of earlier batches, story ids never change, merges of earlier stories
    go to merges.parquet, documents.parquet lists the batch and clusters.parquet /
    additions.parquet every story the batch touched.

    \b
    Exit codes: 0 success, 1 failure, 2 usage error,
    3 completed but rejects exceeded --max-reject-rate.
    """
    from dedup.job import run_job

    if state_dir is not None and engine != "local":
        raise click.UsageError("--state (incremental runs) works with --engine local only")
    setup_logging(logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO), log_format)
    options = PipelineOptions(workers=workers, min_words=min_words, paraphrase_model=paraphrase_model)
    started = time.perf_counter()
    try:
        outcome = run_job(
            list(inputs),
            out_dir,
            options,
            canonical_policy,
            force=force,
            engine=engine,
            spark_master=spark_master,
            state_dir=state_dir,
        )
    except (InputError, OutputError, StateError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    except OSError as exc:
        click.echo(f"error: cannot write outputs to {out_dir}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_FAILURE)
    counts = outcome.manifest["counts"]
    if outcome.skipped:
        click.echo(
            f"{out_dir}/ already holds the outputs of these inputs and parameters; nothing to do "
            "(--force to rerun)",
            err=quiet,
        )
    else:
        click.echo(
            f"{counts['input_records']} inputs -> {counts['documents']} documents "
            f"in {counts['clusters']} stories ({counts['multi_document_clusters']} with several versions), "
            f"{counts['additions']} additions, {counts['rejects']} rejects; "
            f"wrote {out_dir}/ in {time.perf_counter() - started:.1f}s",
            err=quiet,
        )
    if max_reject_rate is not None and outcome.reject_rate > max_reject_rate:
        click.echo(
            f"error: {counts['rejects']} of {counts['input_records']} inputs rejected "
            f"({outcome.reject_rate:.1%} > --max-reject-rate {max_reject_rate:.1%}); "
            f"see {out_dir}/rejects.parquet",
            err=True,
        )
        sys.exit(EXIT_REJECTS)


@main.command()
def schema() -> None:
    """Print the output tables, their columns, types and meaning (schema version)."""
    from dedup.records import COLUMN_DOCS, OUTPUT_SCHEMAS, SCHEMA_VERSION

    click.echo(f"newsdedup output schema version {SCHEMA_VERSION}")
    for name, table_schema in OUTPUT_SCHEMAS.items():
        click.echo(f"\n{name}.parquet")
        for f in table_schema:
            null = "" if f.nullable else " not null"
            click.echo(f"  {f.name:<26} {f.type!s:<40}{null}\n      {COLUMN_DOCS[name][f.name]}")


@main.command(name="eval")
@click.argument("labels", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("run_out", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--worst",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="How many worst merged and split stories to list.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def evaluate(labels: Path, run_out: Path | None, worst: int, as_json: bool) -> None:
    """Score a grouping against gold story labels.

    LABELS is a JSONL file with `id` and `story` fields (one article a line). With RUN_OUT,
    the grouping of that finished run (its documents.parquet) is scored; without it, LABELS
    itself must carry the articles (`text` or `html`) and is grouped with the default
    configuration first. Prints the adjusted Rand index, pairwise and B-cubed
    precision/recall/F1, and the worst merged (one predicted story, several gold ones) and
    split (one gold story, several predicted ones) stories.
    """
    import json

    from dedup.evaluate import score_grouping

    gold: dict[str, str] = {}
    with labels.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                gold[str(row["id"])] = str(row["story"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                click.echo(
                    f"error: {labels}:{lineno}: need a JSON object with 'id' and 'story' ({exc})", err=True
                )
                sys.exit(EXIT_USAGE)
    if run_out is not None:
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(run_out / "documents.parquet", columns=["doc_id", "cluster_id"])
        except OSError as exc:
            click.echo(f"error: no finished run in {run_out}: {exc}", err=True)
            sys.exit(EXIT_FAILURE)
        predicted = dict(zip(table["doc_id"].to_pylist(), table["cluster_id"].to_pylist(), strict=True))
    else:
        from dedup.engines.local import run_pipeline

        result = run_pipeline([str(labels)], PipelineOptions())
        predicted = {
            result.documents[m.doc_index].doc_id: story.cluster_id
            for story in result.stories
            for m in story.members
        }
    missing = sorted(set(gold) - set(predicted))
    scores = score_grouping(gold, predicted, worst=worst)
    if as_json:
        from dataclasses import asdict

        click.echo(json.dumps({**asdict(scores), "unscored_labels": len(missing)}, indent=2))
        return
    click.echo(
        f"{scores.n_documents} documents: {scores.n_gold_stories} gold stories, "
        f"{scores.n_predicted_stories} predicted"
    )
    if missing:
        click.echo(f"({len(missing)} labelled ids are not in the grouping and are not scored)")
    click.echo(f"adjusted Rand index  {scores.ari:.4f}")
    click.echo(
        f"pairwise  P {scores.pairwise_precision:.4f}  R {scores.pairwise_recall:.4f}  "
        f"F1 {scores.pairwise_f1:.4f}"
    )
    click.echo(
        f"B-cubed   P {scores.bcubed_precision:.4f}  R {scores.bcubed_recall:.4f}  F1 {scores.bcubed_f1:.4f}"
    )
    for title, rows in (
        ("worst merges (predicted story: gold stories)", scores.worst_merges),
        ("worst splits (gold story: predicted stories)", scores.worst_splits),
    ):
        if rows:
            click.echo(title)
            for key, values in rows:
                click.echo(f"  {key}: {', '.join(values)}")


@main.command()
@click.argument("cluster_id")
@click.option(
    "--out",
    "out_dir",
    default="out",
    show_default=True,
    type=click.Path(path_type=Path),
    help="Output folder of a finished run.",
)
def show(cluster_id: str, out_dir: Path) -> None:
    """Print one story: its canonical version, then every variant with what it adds."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        clusters = pq.read_table(out_dir / "clusters.parquet")
        documents = pq.read_table(out_dir / "documents.parquet")
        additions = pq.read_table(out_dir / "additions.parquet")
    except OSError as exc:
        click.echo(f"error: no finished run in {out_dir}: {exc}", err=True)
        sys.exit(EXIT_FAILURE)
    story = clusters.filter(pc.equal(clusters["cluster_id"], cluster_id)).to_pylist()
    if not story:
        click.echo(f"error: no story {cluster_id!r} in {out_dir}/clusters.parquet", err=True)
        sys.exit(EXIT_USAGE)
    story = story[0]
    members = documents.filter(pc.equal(documents["cluster_id"], cluster_id)).to_pylist()
    adds = additions.filter(pc.equal(additions["cluster_id"], cluster_id)).to_pylist()
    canonical = next(m for m in members if m["is_canonical"])
    click.secho(f"Story {cluster_id}: {story['title'] or '(untitled)'} — {story['size']} versions", bold=True)
    click.secho(f"\nCANONICAL {canonical['doc_id']}  ({story['canonical_reason']})", fg="green", bold=True)
    click.echo(canonical["text"])
    for member in sorted(members, key=lambda m: m["doc_id"]):
        if member["is_canonical"]:
            continue
        mine = [a for a in adds if a["doc_id"] == member["doc_id"]]
        click.secho(
            f"\nVARIANT {member['doc_id']}  {member['relation']}, similarity "
            f"{member['similarity_to_canonical']:.2f}, {len(mine)} additions",
            fg="cyan",
            bold=True,
        )
        for a in mine:
            label = click.style(f"[{a['kind']}]", fg="yellow")
            if a["kind"] == "sentence":
                click.echo(f"  {label} {a['text']}")
            else:
                click.echo(f"  {label} {click.style(a['text'], bold=True)}  in: {a['sentence']}")


if __name__ == "__main__":
    main()
