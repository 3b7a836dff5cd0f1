"""Execution on py-evm: transactions of both kinds, precompiles, block building and validation."""
