"""YiLian Chain consortium node."""

import os

__version__ = "0.1.0"

# py-evm and eth-utils hash through eth-hash, whose automatic choice takes pycryptodome first when both are installed;
# safe-pysha3 (a dependency) takes a tenth of the time per call, and py-evm hashes every account and storage key it
# touches. An explicit ETH_HASH_BACKEND still wins.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
