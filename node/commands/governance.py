"""``yilian governance``: propose, vote, see the state, and join as a newly added center."""

from __future__ import annotations

import json
from pathlib import Path

import click

ACTIONS = {"add-center": "AddCenter", "remove-center": "RemoveCenter", "add-institution": "AddInstitution",
           "remove-institution": "RemoveInstitution", "add-ca": "AddCA", "remove-ca": "RemoveCA", "add-auditor": "AddAuditor",
           "remove-auditor": "RemoveAuditor", "blacklist": "Blacklist", "unblacklist": "Unblacklist"}
HOME = click.Path(file_okay=False, exists=True, path_type=Path)


def _center(home: Path, url: str | None):  # type: ignore[no-untyped-def]
    from chain_sdk import Client, TradingCenter, Wallet
    from chain_sdk.errors import KeystoreError
    from node.config import load_node_config

    config = load_node_config(home)
    try:
        wallet = Wallet.load(config.admin_key_path, config.password())
    except KeystoreError as exc:
        raise click.ClickException(str(exc)) from None
    return TradingCenter(Client(url or config.api_url), wallet)


def _keystore_header(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None


def _run(action):  # type: ignore[no-untyped-def]
    from chain_sdk.errors import NodeUnavailable, SdkError, TransactionFailed

    try:
        return action()
    except TransactionFailed as exc:
        raise click.ClickException(f"refused by the chain: {exc.error}{exc.args_ if exc.args_ else ''}") from None
    except NodeUnavailable as exc:
        raise click.ClickException(str(exc)) from None
    except SdkError as exc:
        raise click.ClickException(str(exc)) from None


@click.group("governance")
def command() -> None:
    """Consortium governance: more than 2/3 of the centers decide on members and the validator set."""


@command.command("propose")
@click.argument("action", type=click.Choice(sorted(ACTIONS)))
@click.option("--home", type=HOME, required=True, help="The proposing center's home (its admin key signs).")
@click.option("--url", help="Node API URL (default: the proposing center's).")
@click.option("--subject", help="The member's admin address (or use --center-home for add-center).")
@click.option("--center-home", type=HOME, help="add-center: the new center's directory (from `yilian center new`).")
@click.option("--name", default="", help="The member's name.")
@click.option("--effective-in", type=click.IntRange(2, 1_000_000), default=10, show_default=True,
              help="Center changes: blocks from now until the validator set changes.")
def propose(action: str, home: Path, url: str | None, subject: str | None, center_home: Path | None, name: str, effective_in: int) -> None:
    """Propose ACTION; the proposer's vote counts at once."""
    center = _center(home, url)
    key, effective = b"", 0
    if action == "add-center":
        if center_home is None:
            raise click.UsageError("add-center needs --center-home (the new center's directory)")
        admin = _keystore_header(center_home / "keys" / "admin.json")
        validator = _keystore_header(center_home / "keys" / "validator.json")
        subject, key = admin["address"], bytes.fromhex(validator["public_key"].removeprefix("0x"))
        name = name or json.loads((center_home / "node.json").read_text())["name"]
    if not subject:
        raise click.UsageError(f"{action} needs --subject ADDRESS")
    if action in ("add-center", "remove-center"):
        effective = _run(center.client.height) + effective_in
    proposal = _run(lambda: center.propose(ACTIONS[action], subject, name, validator_key=key, effective_height=effective))
    state = _run(lambda: center.members.call("proposal", proposal))
    click.secho(f"proposal {proposal}: {ACTIONS[action]} {name} {subject}" + (f", effective at block {effective}" if effective else ""),
                fg="green")
    click.echo(f"  votes {state[6]} of {_run(lambda: center.members.call('quorum'))} needed; "
               + ("executed" if state[7] else f"other centers: yilian governance vote {proposal} --home <their home>"))


@command.command("vote")
@click.argument("proposal", type=int)
@click.option("--home", type=HOME, required=True, help="The voting center's home.")
@click.option("--url", help="Node API URL (default: the voting center's).")
def vote(proposal: int, home: Path, url: str | None) -> None:
    """Vote for PROPOSAL."""
    center = _center(home, url)
    _run(lambda: center.vote(proposal))
    state = _run(lambda: center.members.call("proposal", proposal))
    click.secho(f"voted for proposal {proposal}: {state[6]} vote(s), " + ("executed" if state[7] else "not yet decided"), fg="green")


@command.command("status")
@click.option("--url", required=True, help="Any node's API URL.")
def status(url: str) -> None:
    """Centers, validators, pending validator-set changes and proposals."""
    from chain_sdk import Client, Contract

    client = Client(url)
    members = Contract(client, "MemberRegistry")
    node = _run(client.status)
    click.secho(f"chain {node['chain_id']} at block {node['height']}; {len(node['validators'])} validator(s) for the next block; "
                f"quorum {_run(lambda: members.call('quorum'))} of the centers", bold=True)
    for admin in _run(lambda: members.call("centers")):
        role, active, name, validator = _run(lambda: members.call("members", admin))
        peer = _run(lambda: members.call("peerIdOf", admin))
        click.echo(f"  center {name}: admin {admin}, validator {validator}" + (f", peer {peer}" if peer else ""))
    count = _run(lambda: members.call("validatorUpdateCount"))
    for index in range(count):
        _x, _y, height, added = _run(lambda: members.call("validatorUpdates", index))
        if height > node["height"]:
            click.echo(f"  pending: validator {'added' if added else 'removed'} from block {height}")
    actions = list(ACTIONS.values())
    for index in range(_run(lambda: members.call("proposalCount"))):
        action, subject, name, _key, effective, deadline, votes, executed, proposer = _run(lambda: members.call("proposal", index))
        click.echo(f"  proposal {index}: {actions[action]} {name} {subject}: {votes} vote(s), "
                   + ("executed" if executed else f"open until block {deadline}"))


@command.command("join")
@click.option("--home", type=HOME, required=True, help="The new center's home (after the centers voted AddCenter).")
@click.option("--url", required=True, help="A member center's node URL (this center's node is not connected yet).")
def join(home: Path, url: str) -> None:
    """Register this center's libp2p peer ID on chain, so that the other nodes accept its node."""
    center = _center(home, url)
    if not _run(lambda: center.members.call("isCenter", center.address)):
        raise click.ClickException(f"{center.address} is not a center yet: the centers must first vote AddCenter for it")
    peer = _keystore_header(home / "keys" / "p2p.json")["address"]  # an ed25519 keystore names its peer ID
    _run(lambda: center.members.transact(center.wallet, "setPeerId", peer))
    click.secho(f"peer ID {peer} registered; start the node: yilian node --home {home}", fg="green")
