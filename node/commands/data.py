"""``yilian data``: a center's operator feeds its custodian data service."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("data")
def command() -> None:
    """Ingest records into this center's custodian data service (raw data stays here; commitments go on chain)."""


@command.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--home", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="The center's home (for its node URL and secrets/data-token).")
@click.option("--url", help="The node's API URL (default: from HOME/node.json).")
@click.option("--type", "record_type", help="Record type of every row (needed for CSV; JSONL lines may carry 'type').")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=1000, show_default=True,
              help="Records per Merkle batch (one anchoring transaction each).")
@click.option("--in-flight", type=click.IntRange(1, 8), show_default="the SDK's, chain_sdk.data.IN_FLIGHT",
              help="Batches sent at once: the node prepares the next while the chain finalizes the last (1 keeps the file's order).")
def import_(file: Path, home: Path, url: str | None, record_type: str | None, batch_size: int, in_flight: int | None) -> None:
    """Bulk import FILE (.jsonl: {type, local_id, owner, record} per line; .csv: local_id, owner and the record's
    fields as columns): validated against the data standard, anchored in Merkle batches, stored encrypted."""
    import time

    from chain_sdk.data import IN_FLIGHT, DataService, ImportInterrupted, read_records  # (chain_sdk loads in ~0.5 s: not for every command)
    from chain_sdk.errors import NodeError, SdkError
    from node.config import load_node_config

    config = load_node_config(home)
    token_path = home / "secrets" / "data-token"
    if not token_path.exists():
        raise click.ClickException(f"{token_path} does not exist: start the node once (`yilian node --home {home}`), it creates the token")
    service = DataService(url or config.api_url, token_path.read_text(encoding="utf-8"))
    try:
        items = list(read_records(file, record_type))
    except SdkError as exc:
        raise click.ClickException(str(exc)) from None
    if not items:
        raise click.ClickException(f"{file} holds no records")
    started = time.monotonic()
    with click.progressbar(length=len(items), label=f"anchoring {len(items)} records", show_pos=True, file=click.get_text_stream("stderr")) as bar:
        def advance(done: int, _total: int) -> None:
            bar.update(done - bar.pos)

        def ranges(starts: list[int]) -> str:
            return ", ".join(f"{a + 1}-{min(a + batch_size, len(items))}" for a in sorted(starts)) or "none"

        try:
            results = service.ingest_batches(items, batch_size=batch_size, in_flight=in_flight or IN_FLIGHT, progress=advance)
        except ImportInterrupted as exc:
            bar.render_finish()
            first_line = 2 if file.suffix.lower() == ".csv" else 1  # (a CSV file's header is line 1)
            for start, error in sorted(exc.failed.items()):
                problems = (error.body or {}).get("problems", []) if isinstance(error, NodeError) and isinstance(error.body, dict) else []
                for problem in problems[:20]:
                    click.secho(f"  {file.name}:{start + problem['index'] + first_line}: {problem['field']}: {problem['detail']}", fg="red", err=True)
            raise click.ClickException(f"{exc.failed[min(exc.failed)]}; anchored: records {ranges(list(exc.results))} ({exc.anchored} of "
                                       f"{len(items)}); not anchored: records {ranges([*exc.failed, *exc.unsent])}: fix those and "
                                       "import only them") from None
    done = sum(result["size"] for result in results)
    elapsed = time.monotonic() - started
    click.secho(f"anchored {done} records in {elapsed:.1f} s ({done / elapsed:.0f} records/s), "
                f"{(len(items) + batch_size - 1) // batch_size} batch transaction(s)", fg="green")
