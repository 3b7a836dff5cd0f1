"""``yilian center new``: prepare a new center's directory for an existing consortium."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("center")
def command() -> None:
    """A center joining an existing consortium."""


@command.command("new")
@click.option("--consortium", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True,
              help="The consortium directory (genesis.json, members.json).")
@click.option("--name", required=True, help="Short name, e.g. center-e.")
@click.option("--organization", default=None, help="Full name of the organisation (default: from --name).")
@click.option("--api-port", type=click.IntRange(1024, 65535), required=True)
@click.option("--p2p-port", type=click.IntRange(1024, 65535), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def new(consortium: Path, name: str, organization: str | None, api_port: int, p2p_port: int, host: str) -> None:
    """Generate the new center's keys and node configuration; print what the centers vote on."""
    from node.consortium import add_center

    center = add_center(consortium, name, organization or f"Public Resource Trading Center {name.split('-')[-1].upper()}",
                        api_port=api_port, p2p_port=p2p_port, host=host)
    click.secho(f"created {center.home}", fg="green")
    click.echo(f"  admin account     {center.admin_address}")
    click.echo(f"  validator key     {center.validator_public_key}")
    click.echo(f"  libp2p peer ID    {center.peer_id}")
    click.echo("next:")
    click.echo(f"  1. a member center proposes:  yilian governance propose add-center --home <its home> --center-home {center.home}")
    click.echo("  2. more than 2/3 of the centers vote:  yilian governance vote <id> --home <their home>")
    click.echo(f"  3. this center registers its peer ID:  yilian governance join --home {center.home} --url <a member's node URL>")
    click.echo(f"  4. start it (it syncs from genesis):  yilian node --home {center.home}")
