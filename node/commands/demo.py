"""``yilian demo``: the main job, narrated step by step; exits 0 only if every check passed.

A consortium is generated and exercised for real (keys, certificates,
signatures, a commit certificate); then a one-validator chain runs as a real
node process (`yilian localnet`) and is used the way its users will: a
contract deployed and called with web3.py, a native SM2 transaction over
REST, and an inclusion proof checked with the genesis file alone. The
workflows land in later releases; the demo says so instead of pretending.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click


class _Narrator:
    """Prints numbered steps with timings and remembers whether all checks passed."""

    def __init__(self) -> None:
        self.failures: list[str] = []
        self.step_no = 0
        self.started = time.perf_counter()

    def step(self, title: str, action: Callable[[], str]) -> None:
        self.step_no += 1
        started = time.perf_counter()
        click.secho(f"[{self.step_no}] {title}", bold=True)
        try:
            detail = action()
        except Exception as exc:  # noqa: BLE001 - a demo step's failure is reported, counted and shown
            self.failures.append(f"{title}: {exc}")
            click.secho(f"    FAILED: {exc}", fg="red")
            return
        elapsed = (time.perf_counter() - started) * 1000
        for line in detail.splitlines():
            click.echo(f"    {line}")
        click.secho(f"    ok ({elapsed:.0f} ms)", fg="green")


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None, help="Keep the generated consortium here (default: a temporary directory).")
@click.option("--centers", type=click.IntRange(1, 16), default=4, show_default=True)
def command(directory: Path | None, centers: int) -> int:
    """Run the YiLian Chain demo."""
    from node.config import load_genesis, load_node_config
    from node.consortium import create_consortium
    from node.crypto import x509
    from node.types import CommitCertificate, Transaction, Vote, VoteType

    narrator = _Narrator()
    temporary = None
    if directory is None:
        temporary = tempfile.TemporaryDirectory(prefix="yilian-demo-")
        directory = Path(temporary.name)
    click.secho("YiLian Chain demo", fg="cyan", bold=True)
    state: dict = {}

    def make_consortium() -> str:
        info = create_consortium(directory / "consortium", centers, dev_accounts=1, force=True)
        state["info"] = info
        lines = [f"chain id {info.chain_id}, suite {info.suite}, genesis {info.genesis_path}"]
        lines += [f"{c.name}: validator {c.validator_address}, peer {c.peer_id}" for c in info.centers]
        return "\n".join(lines)

    def check_genesis() -> str:
        genesis = load_genesis(state["info"].genesis_path)
        state["genesis"] = genesis
        validators = genesis.validator_set()
        return (
            f"{len(validators)} validators, tolerates f = {validators.max_faulty} Byzantine, quorum {validators.quorum}\n"
            f"{len(genesis.members)} members, {len(genesis.trusted_cas)} trusted CA roots, {len(genesis.accounts)} admitted accounts"
        )

    def check_certificates() -> str:
        genesis = state["genesis"]
        roots = [x509.load_certificate(ca.certificate_pem.encode()) for ca in genesis.trusted_cas]
        lines = []
        for root in roots:
            path = x509.verify_chain(root, [], roots)
            lines.append(f"{root.subject}: SM2-with-SM3 root verified ({len(path)} certificate)")
        return "\n".join(lines)

    def sign_transaction() -> str:
        genesis = state["genesis"]
        home = state["info"].centers[0].home
        config = load_node_config(home)
        admin = config.load_admin_key()
        tx = Transaction(genesis.chain_id, 0, admin.address, b"\x00" * 19 + b"\x01", 0, b"hello", 100_000, 10).signed(admin)
        raw = tx.encode()
        again = Transaction.decode(raw)
        again.verify(genesis.suite, genesis.chain_id)
        return f"{config.name} admin 0x{admin.address.hex()} signed tx 0x{again.hash(genesis.suite).hex()[:16]}… ({len(raw)} bytes, SM2 verified)"

    def commit_certificate() -> str:
        genesis = state["genesis"]
        block_hash = genesis.suite.hash(b"demo block")
        votes = []
        for center in state["info"].centers:
            key = load_node_config(center.home).load_validator_key()
            votes.append(Vote(genesis.chain_id, VoteType.PRECOMMIT, 1, 0, block_hash, key.address).signed(key))
        certificate = CommitCertificate.from_votes(votes)
        certificate.verify(genesis.suite, genesis.validator_set(), chain_id=genesis.chain_id)
        return f"{len(votes)} precommits from the centers' validator keys form a certificate that verifies"

    narrator.step("Create a consortium of trading centers (`yilian init`)", make_consortium)
    narrator.step("Load and check the genesis", check_genesis)
    narrator.step("Verify every center's organisation CA certificate", check_certificates)
    narrator.step("Sign and verify a native SM2 transaction with a center's admin key", sign_transaction)
    narrator.step("Form and verify a commit certificate from the validators' keys", commit_certificate)
    from node.demo_chain import ChainDemo

    chain_demo = ChainDemo(directory / "localnet")
    try:
        narrator.step("Start a one-validator chain as a real node process (`yilian localnet`)", chain_demo.start)
        narrator.step("Deploy a contract, transact and read its event with web3.py", chain_demo.web3_contract)
        narrator.step("Check an SM2 signature inside a contract (SM2/SM3 precompiles)", chain_demo.precompiles)
        narrator.step("Send a native SM2-signed transaction over REST and wait for it", chain_demo.native_transaction)
        narrator.step("Verify the receipt's inclusion proof with the genesis file alone", chain_demo.verify_proof)
    finally:
        narrator.step("Stop the node cleanly (SIGTERM: finish the block, close the database)", chain_demo.stop)

    click.echo()
    click.secho(
        "The chain above runs one validator; `yilian localnet --nodes 4` runs four centers with BFT consensus\n"
        "over libp2p. Not in this release yet: data sharing, the SDK, YiLianQian and YiLianBao.\n"
        "This demo shows only what exists.",
        fg="yellow",
    )
    total = time.perf_counter() - narrator.started
    if temporary is not None:
        temporary.cleanup()
    if narrator.failures:
        click.secho(f"{len(narrator.failures)} step(s) failed in {total:.1f} s:", fg="red", bold=True)
        for failure in narrator.failures:
            click.secho(f"  - {failure}", fg="red")
        return 1
    click.secho(f"All {narrator.step_no} steps passed in {total:.1f} s.", fg="green", bold=True)
    return 0
