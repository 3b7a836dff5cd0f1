"""``yilian localnet``: a fresh development chain with funded-free, admitted development accounts."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("localnet")
@click.option("--nodes", type=click.IntRange(1, 16), default=1, show_default=True, help="Number of nodes (centers).")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("localnet"), show_default=True,
              help="Where the consortium, data and localnet.json live (reused when it exists).")
@click.option("--port", type=click.IntRange(1024, 65535), default=8600, show_default=True, help="API port of the first node.")
@click.option("--suite", type=click.Choice(["gm", "ecdsa"]), default="gm", show_default=True)
@click.option("--accounts", type=click.IntRange(1, 20), default=3, show_default=True, help="Development accounts per key type.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
def command(nodes: int, directory: Path, port: int, suite: str, accounts: int, log_level: str) -> None:
    """Start a local development chain and write DIR/localnet.json (API URLs and development keys)."""
    from node.config import load_node_config
    from node.consortium import create_consortium
    from node.errors import ConfigError
    from node.runner import configure_logging, run_node

    if nodes != 1:
        raise ConfigError(
            "localnet runs one node in this release: several nodes need the BFT engine and the libp2p network, "
            "which are not wired into the node yet; use --nodes 1"
        )
    consortium = directory / "consortium"
    if not (consortium / "genesis.json").exists():
        click.echo(f"creating a {nodes}-center consortium in {consortium}", err=True)
        create_consortium(consortium, nodes, suite=suite, dev_accounts=accounts, base_api_port=port, base_p2p_port=port + 1000,
                          progress=lambda message: click.echo(f"  {message}", err=True))
    dev = json.loads((consortium / "dev-accounts.json").read_text(encoding="utf-8"))
    homes = sorted(p for p in (consortium / "centers").iterdir() if (p / "node.json").exists())
    configs = [load_node_config(home) for home in homes]
    description = {
        "warning": "DEVELOPMENT ONLY: the private keys below are public. Never use them on a real consortium.",
        "chain_id": dev["chain_id"],
        "suite": suite,
        "nodes": [{"name": c.name, "api_url": c.api_url, "rpc_url": c.api_url + "/", "home": str(c.home)} for c in configs],
        "accounts": dev["accounts"],
    }
    out = directory / "localnet.json"
    out.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    click.echo(f"wrote {out}: {len(dev['accounts'])} development accounts; JSON-RPC at {configs[0].api_url}/", err=True)
    configure_logging(log_level)
    run_node(configs[0])
