"""``yilian node --home DIR``: run one center's node."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("node")
@click.option("--home", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="The center directory made by `yilian init` (holds node.json, keys, data).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Override the API port of node.json.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
@click.option("--log-format", type=click.Choice(["console", "json"]), default="console", show_default=True,
              help="Human-readable lines, or one JSON object per line for log collectors.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write logs here, rotated at 10 MiB with 5 files kept (default: stderr).")
@click.option("--check", is_flag=True, help="Validate the configuration, keys, data directory and ports, then exit.")
@click.option("--repair", is_flag=True,
              help="Move a damaged ledger aside and re-sync every block from the other centers, then run "
                   "(keys, consensus WAL and custodian data are kept).")
def command(home: Path, port: int | None, log_level: str, log_format: str, log_file: Path | None, check: bool, repair: bool) -> None:
    """Run the node of the center in HOME (solo mode for a one-validator consortium)."""
    from node.config import load_node_config
    from node.runner import check_node, configure_logging, run_node

    config = load_node_config(home)
    if check:
        for line in check_node(config, port=port):
            click.secho(f"ok  {line}", fg="green")
        click.secho(f"{config.name}: configuration is valid; start it with `yilian node --home {home}`", fg="green", bold=True)
        return
    configure_logging(log_level, log_format, log_file)
    if repair:
        from node.runner import set_ledger_aside

        set_ledger_aside(config)
    run_node(config, port=port)
