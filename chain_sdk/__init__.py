"""YiLian Chain Python SDK.

The SDK talks to nodes over HTTP/JSON-RPC and shares only the documented wire
formats with them: it never imports the ``node`` package (a test checks it).

    from chain_sdk import Client, Wallet, TradingCenter, Enterprise, FinancialInstitution
"""

from chain_sdk.client import Client, Session
from chain_sdk.contracts import ADDRESSES, Contract
from chain_sdk.errors import BatchFailed, InclusionTimeout, KeystoreError, NodeBehind, NodeError, NodeUnavailable, QrRefused, SdkError, TransactionFailed
from chain_sdk.data import DataRefused, DataService, ImportInterrupted, SharedRecord, TamperedRecord
from chain_sdk.roles import Auditor, Enterprise, FinancialInstitution, TradingCenter
from chain_sdk.wallet import Wallet

__version__ = "0.1.0"
__all__ = ["ADDRESSES", "Auditor", "BatchFailed", "Client", "Contract", "DataRefused", "DataService", "ImportInterrupted", "SharedRecord", "TamperedRecord", "Enterprise", "FinancialInstitution", "InclusionTimeout", "KeystoreError", "NodeBehind", "NodeError",
           "NodeUnavailable", "QrRefused", "SdkError", "Session", "TradingCenter", "TransactionFailed", "Wallet"]
