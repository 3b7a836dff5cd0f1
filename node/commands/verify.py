"""``yilian verify``: an auditor checks a proof with the consortium genesis alone.

It runs :mod:`chain_sdk.verify`, the SDK's light client, which shares no code with the node.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("verify")
@click.argument("proofs", nargs=-1, required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--genesis", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="The consortium's genesis.json (the only thing trusted).")
def command(proofs: tuple[Path, ...], genesis: Path) -> None:
    """Check each PROOF (yilian-proof/2 JSON): the block's commit certificate from the genesis validators through
    every validator-set change, and the Merkle path of the transaction or receipt. Prints what was proven and
    exits 1 if any proof fails."""
    import json

    from chain_sdk.errors import SdkError
    from chain_sdk.verify import Genesis, ProofRejected, verify_proof

    try:
        trusted = Genesis.load(genesis)
    except SdkError as exc:
        raise click.ClickException(str(exc)) from None
    failed = 0
    for proof in proofs:
        try:
            try:
                document = json.loads(proof.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ProofRejected("proof", f"not JSON: {exc}") from None
            verified = verify_proof(trusted, document)
        except ProofRejected as exc:
            failed += 1
            click.secho(f"{proof}: proof REJECTED at {exc.field}: {exc}", fg="red", err=True)
            continue
        click.secho(f"{proof}: proof OK", fg="green")
        for line in verified.summary():
            click.echo(f"  {line}")
    if failed:
        raise click.exceptions.Exit(1)
