"""``yilian node --home DIR``: run one center's node."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("node")
@click.option("--home", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="The center directory made by `yilian init` (holds node.json, keys, data).")
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Override the API port of node.json.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
def command(home: Path, port: int | None, log_level: str) -> None:
    """Run the node of the center in HOME (solo mode for a one-validator consortium)."""
    from node.config import load_node_config
    from node.runner import configure_logging, run_node

    configure_logging(log_level)
    run_node(load_node_config(home), port=port)
