"""Child process for the kill -9 test: commit blocks as fast as possible, forever.

Usage: python crash_child.py CONSORTIUM_DIR DATA_DIR
Prints "height N" after each commit (flushing), so the parent knows what was acknowledged.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chainutil import PASSWORD, eth_tx, native_tx  # noqa: E402
from node.chain import Chain  # noqa: E402
from node.config import load_node_config  # noqa: E402
from node.crypto.keystore import load_keystore  # noqa: E402
from node.mempool import Mempool  # noqa: E402
from node.solo import SoloEngine  # noqa: E402


def main() -> None:
    import json

    from eth_account import Account

    from node.crypto import get_suite

    consortium, data = Path(sys.argv[1]), Path(sys.argv[2])
    home = next((consortium / "centers").iterdir())
    config = load_node_config(home)
    genesis = config.load_genesis()
    validator = load_keystore(config.validator_key_path, PASSWORD)
    dev = json.loads((consortium / "dev-accounts.json").read_text())
    eth = Account.from_key(next(a for a in dev["accounts"] if a["suite"] == "ecdsa")["private_key"])
    gm = get_suite("gm").key_from_secret(bytes.fromhex(next(a for a in dev["accounts"] if a["suite"] == "gm")["private_key"][2:]))
    chain = Chain(data, genesis)
    mempool = Mempool(chain)
    engine = SoloEngine(chain, mempool, validator)
    state = chain.executor.state_at()
    eth_nonce = state.get_nonce(bytes.fromhex(eth.address[2:]))
    gm_nonce = state.get_nonce(gm.address)
    # a storage-writing contract per block keeps each batch large (many trie nodes)
    init = bytes.fromhex("602a600055600b6011600039600b6000f360005460005260206000f3")
    while True:
        for _ in range(20):
            mempool.add(eth_tx(eth, eth_nonce, data=init))
            eth_nonce += 1
            mempool.add(native_tx(gm, gm_nonce, to=b"\x11" * 20, data=b"x" * 64))
            gm_nonce += 1
        execution = engine.produce()
        print(f"height {execution.block.header.height}", flush=True)


if __name__ == "__main__":
    main()
