"""``yilian init``: generate a consortium (keys, certificates, node configs, genesis)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("init")
@click.option("--centers", type=click.IntRange(1, 64), default=4, show_default=True, help="Number of trading centers (validators).")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory to create the consortium in.")
@click.option("--suite", type=click.Choice(["gm", "ecdsa"]), default="gm", show_default=True, help="Crypto suite fixed for the chain.")
@click.option("--chain-id", type=click.IntRange(1, 2**53 - 1), default=6600, show_default=True, help="EVM chain id.")
@click.option("--api-port", type=click.IntRange(1024, 65535), default=8600, show_default=True, help="API port of the first center (then +1 each).")
@click.option("--p2p-port", type=click.IntRange(1024, 65535), default=9600, show_default=True, help="P2P port of the first center (then +1 each).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host the centers listen on and dial each other at.")
@click.option("--dev-accounts", type=click.IntRange(0, 100), default=0, show_default=True, help="Admit this many development accounts per key type (keys written in plaintext).")
@click.option(
    "--password-file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Encrypt every keystore with the password in this file (default: $YILIAN_KEY_PASSWORD, else a random password per center in secrets/password).",
)
@click.option("--by-name", is_flag=True, help="For containers: listen on 0.0.0.0 and dial peers by center name "
              "(/dns4/center-b/tcp/9600), every center at the same ports (docker/compose.yaml).")
@click.option("--empty-block-interval-ms", type=click.IntRange(100, 3_600_000), default=5000, show_default=True,
              help="An idle chain makes one empty block per interval (its clock for deadlines); fixed in the genesis.")
@click.option("--force", is_flag=True, help="Replace an existing consortium in --out (its keys are lost).")
def command(
    centers: int,
    out: Path,
    suite: str,
    chain_id: int,
    api_port: int,
    p2p_port: int,
    host: str,
    dev_accounts: int,
    password_file: Path | None,
    by_name: bool,
    empty_block_interval_ms: int,
    force: bool,
) -> None:
    """Generate a consortium of CENTERS trading centers in OUT."""
    import os

    from node.config import ConsensusParams
    from node.consortium import create_consortium
    from node.crypto.keystore import PASSWORD_ENV, read_password

    password = None
    if password_file is not None or os.environ.get(PASSWORD_ENV):
        password = read_password(password_file)
    info = create_consortium(
        out,
        centers,
        suite=suite,
        chain_id=chain_id,
        dev_accounts=dev_accounts,
        base_api_port=api_port,
        base_p2p_port=p2p_port,
        host=host,
        by_name=by_name,
        password=password,
        force=force,
        consensus=ConsensusParams(empty_block_interval_ms=empty_block_interval_ms),
        progress=lambda message: click.echo(f"  {message}", err=True),
    )
    click.secho(f"Created consortium '{info.out}' (chain id {info.chain_id}, suite {info.suite})", fg="green")
    click.echo(f"  genesis:  {info.genesis_path}")
    for center in info.centers:
        click.echo(f"  {center.name:<10} validator {center.validator_address}  peer {center.peer_id}  api {center.api_url}")
    if info.dev_accounts_path:
        click.secho(f"  development accounts (plaintext keys, never for production): {info.dev_accounts_path}", fg="yellow")
    if password is None:
        click.secho(
            "  Each center's keystores are encrypted with a random password in centers/<name>/secrets/password;\n"
            "  in production pass --password-file or set YILIAN_KEY_PASSWORD instead, and keep that file off the node.",
            fg="yellow",
        )
    click.echo(f"Next: copy centers/<name>/ to each center's machine and run `yilian node --home centers/<name>`.")
