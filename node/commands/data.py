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
def import_(file: Path, home: Path, url: str | None, record_type: str | None, batch_size: int) -> None:
    """Bulk import FILE (.jsonl: {type, local_id, owner, record} per line; .csv: local_id, owner and the record's
    fields as columns): validated against the data standard, anchored in Merkle batches, stored encrypted."""
    import time

    from chain_sdk.data import DataService, read_records
    from chain_sdk.errors import NodeError, NodeUnavailable, SdkError
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
    started, done = time.monotonic(), 0
    with click.progressbar(length=len(items), label=f"anchoring {len(items)} records", show_pos=True, file=click.get_text_stream("stderr")) as bar:
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            try:
                result = service.ingest_batch(chunk)
            except NodeError as exc:
                problems = (exc.body or {}).get("problems", []) if isinstance(exc.body, dict) else []
                for problem in problems[:20]:
                    line = start + problem["index"] + (2 if file.suffix.lower() == ".csv" else 1)
                    click.secho(f"  {file.name}:{line}: {problem['field']}: {problem['detail']}", fg="red", err=True)
                raise click.ClickException(f"batch starting at record {start + 1} refused: {exc.detail}; {done} record(s) anchored "
                                           "before it; fix the file and import the rest") from None
            except NodeUnavailable as exc:
                raise click.ClickException(f"{exc}; {done} record(s) anchored so far") from None
            done += result["size"]
            bar.update(len(chunk))
    elapsed = time.monotonic() - started
    click.secho(f"anchored {done} records in {elapsed:.1f} s ({done / elapsed:.0f} records/s), "
                f"{(len(items) + batch_size - 1) // batch_size} batch transaction(s)", fg="green")
