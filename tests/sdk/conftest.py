"""A real solo localnet for SDK tests, and the roles a story needs: the center (its admin key from the
consortium directory), an admitted enterprise, a bank and a CA admitted by governance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from chain_sdk import Client, Enterprise, FinancialInstitution, TradingCenter, Wallet
from chainutil import start_localnet


def center_wallet(home: Path) -> Wallet:
    return Wallet.load(home / "keys" / "admin.json", (home / "secrets" / "password").read_bytes().strip())


@dataclass
class Story:
    url: str
    home: Path
    client: Client
    center: TradingCenter
    enterprise: Enterprise
    bank: FinancialInstitution
    ca: Wallet


@pytest.fixture(scope="module")
def localnet(tmp_path_factory: pytest.TempPathFactory):
    node = start_localnet(tmp_path_factory.mktemp("sdk-localnet"))
    yield node
    node.stop()


@pytest.fixture(scope="module")
def story(localnet) -> Story:
    home = Path(localnet.description["nodes"][0]["home"])
    client = Client(localnet.url)
    center = TradingCenter(client, center_wallet(home))
    enterprise = Enterprise(Client(localnet.url), Wallet.generate())
    bank = FinancialInstitution(Client(localnet.url), Wallet.generate())
    ca = Wallet.generate()
    center.admit(enterprise.address)
    center.propose("AddInstitution", bank.address, "Bank K")  # one center: its own vote is the +2/3
    center.propose("AddCA", ca.address, "CA One")
    return Story(localnet.url, home, client, center, enterprise, bank, ca)
