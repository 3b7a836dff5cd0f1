"""What every role has: a client, a wallet and the system contracts."""

from __future__ import annotations

from chain_sdk.client import Client
from chain_sdk.contracts import Contract
from chain_sdk.wallet import Wallet


class Role:
    def __init__(self, client: Client, wallet: Wallet) -> None:
        self.client, self.wallet = client, wallet
        self.members = Contract(client, "MemberRegistry")
        self.records = Contract(client, "RecordRegistry")
        self.authorization = Contract(client, "Authorization")
        self.certificates = Contract(client, "CertificateRegistry")
        self.guarantees = Contract(client, "Guarantee")

    @property
    def address(self) -> str:
        return self.wallet.address
