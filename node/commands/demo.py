"""``yilian demo``: the whole story on a 4-center localnet, narrated step by step; exits 0 only if every check passed.

Centers A–D join; enterprise E is admitted at A and its records anchored; E's CA certificate is registered
once and E logs in at C by QR; bank K asks for E's credit by QR, E's wallet signs, K reads the record from A's
custodian through D and checks it against the chain; K sets a credit line and its automatic rule issues a bid
guarantee for project P at B within seconds; B verifies it and a forged one is refused; E signs and seals a
bid that B opens at the deadline; an auditor verifies every step from the genesis file alone.
Every step is real transactions through the SDK (``chain_sdk``) against real node processes.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import click


class _Narrator:
    """Prints numbered steps with timings and remembers whether all checks passed."""

    def __init__(self, total: int) -> None:
        self.failures: list[str] = []
        self.step_no = 0
        self.total = total
        self.started = time.perf_counter()

    def step(self, title: str, action: Callable[[], str], *, needed: bool = True) -> bool:
        """Run one step; after a failed step that later ones need, they are skipped (and counted as failed)."""
        self.step_no += 1
        started = time.perf_counter()
        click.secho(f"\n[{self.step_no}/{self.total}] {title}", fg="cyan", bold=True)
        if self.failures and needed:
            self.failures.append(f"{title}: skipped after an earlier failure")
            click.secho("    skipped: an earlier step failed", fg="yellow")
            return False
        try:
            detail = action()
        except Exception as exc:  # noqa: BLE001 - a demo step's failure is reported, counted and shown
            self.failures.append(f"{title}: {type(exc).__name__}: {exc}")
            click.secho(f"    FAILED: {type(exc).__name__}: {exc}", fg="red", bold=True)
            return False
        elapsed = time.perf_counter() - started
        for line in detail.splitlines():
            click.echo(f"    {line}")
        click.secho(f"    ✔ ok ({elapsed:.1f} s)", fg="green")
        return True


@click.command("demo")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the localnet, QR codes, certificate and proofs here (default: a temporary directory).")
@click.option("--keep", is_flag=True, help="Leave the 4-center localnet running for exploration.")
def command(directory: Path | None, keep: bool) -> int:
    """Run the YiLian Chain story on a 4-center localnet with real transactions (about a minute)."""
    from node.demo_story import Story

    temporary = None
    if directory is None:
        if keep:
            directory = Path(tempfile.mkdtemp(prefix="yilian-demo-"))
        else:
            temporary = tempfile.TemporaryDirectory(prefix="yilian-demo-")
            directory = Path(temporary.name)
    directory.mkdir(parents=True, exist_ok=True)
    story = Story(directory)
    steps = [
        ("Centers A, B, C and D join: a 4-center consortium, one node process each, BFT over libp2p", story.start),
        ("Governance: the centers admit bank K and certificate authority CA One (+2/3 of the centers vote)", story.governance),
        ("Center A admits enterprise E and anchors its basic info, qualification, performance and credit records", story.enterprise_records),
        ("YiLianQian: E's CA certificate is registered once and recognised by every center", story.certificate),
        ("E logs in at center C by scanning C's QR code", story.qr_login),
        ("Bank K shows an authorization QR; E's wallet checks who asks for what and signs the grant", story.authorize),
        ("K reads E's credit record from A's custodian, through center D, and checks it against the chain", story.read_credit),
        ("Center B publishes project P; K sets E's credit line and an automatic issuing rule", story.project_and_rule),
        ("YiLianBao: E applies for a bid guarantee for P; K's rule issues it within seconds", story.guarantee),
        ("Center B verifies the guarantee; a forged guarantee is refused", story.verify_guarantee),
        ("E signs its bid letter and seals the bid file; B opens it at the deadline", story.bid),
        ("An auditor verifies every step from the genesis file alone", story.audit),
    ]
    narrator = _Narrator(len(steps) + 1)
    click.secho("YiLian Chain 易链 — the demo: trading centers, enterprises, banks and auditors on one ledger", fg="cyan", bold=True)
    click.echo(f"working directory: {directory}")
    try:
        for title, action in steps:
            narrator.step(title, action, needed=title != steps[0][0])
    finally:
        if keep and not narrator.failures:
            narrator.step("Keep the localnet running (--keep)", story.keep_message, needed=False)
        else:
            narrator.step("Shut the nodes down (SIGTERM: each finishes its block and closes its database)", story.stop, needed=False)
    total = time.perf_counter() - narrator.started
    click.echo()
    if narrator.failures:
        click.secho(f"{len(narrator.failures)} step(s) failed in {total:.1f} s:", fg="red", bold=True)
        for failure in narrator.failures:
            click.secho(f"  - {failure}", fg="red")
        click.echo(f"node logs: {directory / 'localnet' / 'logs'} (kept: {directory})")
        return 1
    click.secho(f"All {narrator.step_no} steps passed in {total:.1f} s.", fg="green", bold=True)
    if temporary is not None:
        temporary.cleanup()
        click.echo("run `yilian demo --dir DIR` to keep the QR codes, E's certificate and the proofs; --keep leaves the nodes running")
    else:
        click.echo(f"QR codes, E's certificate and the auditor's proofs are in {directory}")
    return 0
