"""One module per user role, with the verbs users say."""

from chain_sdk.roles.auditor import Auditor
from chain_sdk.roles.center import TradingCenter
from chain_sdk.roles.enterprise import Enterprise
from chain_sdk.roles.institution import FinancialInstitution

__all__ = ["Auditor", "Enterprise", "FinancialInstitution", "TradingCenter"]
