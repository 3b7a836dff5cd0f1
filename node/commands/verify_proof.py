"""``yilian verify-proof``: check an inclusion proof with the consortium genesis alone."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("verify-proof")
@click.argument("proof", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--genesis", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="The consortium's genesis.json (the only thing trusted).")
def command(proof: Path, genesis: Path) -> None:
    """Check that the transaction or receipt in PROOF is in a block the validators committed."""
    from node.config import load_genesis
    from node.errors import ValidationError
    from node.ledger.proofs import verify_proof
    from node.types import Receipt

    try:
        document = json.loads(proof.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.ClickException(f"{proof} is not JSON: {exc}") from None
    chain = load_genesis(genesis)
    try:
        header, leaf = verify_proof(chain, document)
    except ValidationError as exc:
        raise click.ClickException(f"proof REJECTED: {exc}") from None
    click.secho(f"proof OK: {document['kind']} in block {header.height} (0x{header.hash(chain.suite).hex()}), "
                f"committed by a quorum of the {len(chain.validators)} genesis validators", fg="green")
    if isinstance(leaf, Receipt):
        click.echo(f"receipt: status {leaf.status}, gas {leaf.gas_used}, {len(leaf.logs)} log(s)"
                   + (f", revert reason {leaf.revert_reason!r}" if leaf.revert_reason else ""))
