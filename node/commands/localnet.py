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
@click.option("--log-format", type=click.Choice(["console", "json"]), default="console", show_default=True)
def command(nodes: int, directory: Path, port: int, suite: str, accounts: int, log_level: str, log_format: str) -> None:
    """Start a local development chain and write DIR/localnet.json (API URLs and development keys)."""
    from node.config import load_node_config
    from node.consortium import create_consortium
    from node.errors import ConfigError
    from node.runner import configure_logging, run_node

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
    if len(configs) != nodes:
        raise ConfigError(f"{consortium} has {len(configs)} centers, not {nodes}; use another --dir or --nodes {len(configs)}")
    out = directory / "localnet.json"
    out.write_text(json.dumps(description, indent=2) + "\n", encoding="utf-8")
    click.echo(f"wrote {out}: {len(dev['accounts'])} development accounts; JSON-RPC at {configs[0].api_url}/", err=True)
    if nodes == 1:
        configure_logging(log_level, log_format)
        run_node(configs[0])
    else:
        _run_processes(configs, directory, log_level, log_format)


def _run_processes(configs, directory: Path, log_level: str, log_format: str = "console") -> None:  # type: ignore[no-untyped-def]
    """One `yilian node` process per center, logs under DIR/logs; stop them all on Ctrl-C or SIGTERM."""
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    logs = directory / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    processes = []
    stop = {"now": False}

    def request_stop(signum: int, _frame: object) -> None:
        stop["now"] = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        for config in configs:
            handle = open(logs / f"{config.name}.log", "ab")
            processes.append((config, subprocess.Popen(
                [sys.executable, "-m", "node.cli", "node", "--home", str(config.home), "--log-level", log_level, "--log-format", log_format],
                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)))
        click.echo(f"started {len(processes)} nodes; logs in {logs}", err=True)
        deadline = time.monotonic() + 120
        waiting = {config.name for config in configs}
        while waiting and not stop["now"] and time.monotonic() < deadline:
            for config, process in processes:
                if process.poll() is not None:
                    raise click.ClickException(f"{config.name} exited with code {process.returncode}; see {logs / (config.name + '.log')}")
                if config.name in waiting:
                    try:
                        with urllib.request.urlopen(config.api_url + "/v1/status", timeout=1) as response:
                            if json.loads(response.read())["height"] >= 1:
                                waiting.discard(config.name)
                    except OSError:
                        pass
            time.sleep(0.3)
        if waiting and not stop["now"]:
            raise click.ClickException(f"{', '.join(sorted(waiting))} committed no block within 120 s; see the logs in {logs}")
        for config, _ in processes:
            click.echo(f"{config.name}: {config.api_url}  (JSON-RPC {config.api_url}/)")
        click.echo("all nodes are committing blocks; Ctrl-C stops them", err=True)
        while not stop["now"]:
            for config, process in processes:
                if process.poll() is not None:
                    click.echo(f"{config.name} exited with code {process.returncode}", err=True)
            time.sleep(0.5)
    finally:
        for _, process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for config, process in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        click.echo("all nodes stopped", err=True)
