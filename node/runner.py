"""Running one node process: open the chain, start the engine, serve the API, shut down cleanly.

Threads: uvicorn's event loop serves HTTP in the main thread (FastAPI runs
blocking handlers in its thread pool); the engine produces blocks in its own
thread. SIGINT/SIGTERM make uvicorn stop accepting requests; then the engine
finishes the block it is writing and the database closes.
"""

from __future__ import annotations

import logging
import sys

from node.config import NodeConfig

log = logging.getLogger("yilian.node")


def configure_logging(level: str = "info") -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def _serve_until_signalled(server) -> None:  # type: ignore[no-untyped-def]
    """Run uvicorn; SIGINT/SIGTERM stop it and return here (uvicorn's own handling re-raises
    the signal after shutdown, which would kill the process before the database closes)."""
    import asyncio
    import contextlib
    import signal

    def stop(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        server.should_exit = True

    server.capture_signals = contextlib.nullcontext
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        asyncio.run(server.serve())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_node(config: NodeConfig, *, port: int | None = None) -> None:
    """Serve ``config``'s node until interrupted."""
    import uvicorn

    from node.api import create_app
    from node.chain import Chain
    from node.mempool import Mempool
    from node.service import NodeService
    from node.solo import SoloEngine

    genesis = config.load_genesis()
    validator_key = config.load_validator_key()
    chain = Chain(config.data_dir, genesis)
    try:
        mempool = Mempool(chain)
        if len(chain.validators) == 1:
            engine = SoloEngine(chain, mempool, validator_key)
        else:
            from node.bft import BftEngine
            from node.crypto.keystore import load_ed25519_keystore
            from node.crypto.peer_id import P2PIdentity

            identity = P2PIdentity.from_seed(load_ed25519_keystore(config.p2p_key_path, config.password()))
            engine = BftEngine(chain, mempool, validator_key, identity, listen=(config.p2p_host, config.p2p_port),
                               peers={peer.peer_id: peer.address for peer in config.peers},
                               wal_path=config.data_dir / "consensus.wal")
        service = NodeService(chain, mempool, name=config.name, engine=engine)
        app = create_app(service)
        server = uvicorn.Server(uvicorn.Config(app, host=config.api_host, port=port or config.api_port,
                                               log_level="warning", access_log=False, lifespan="off"))
        engine.start()
        log.info("node %s: chain %d (%s), height %d, validator 0x%s, %s", config.name, genesis.chain_id,
                 genesis.suite_name, chain.height, validator_key.address.hex(),
                 "solo" if len(chain.validators) == 1 else f"BFT with {len(chain.validators)} validators, p2p {config.p2p_host}:{config.p2p_port}")
        log.info("serving http://%s:%d (REST /v1, JSON-RPC /, docs /docs)", config.api_host, port or config.api_port)
        _serve_until_signalled(server)
        log.info("stopping: finishing the current block")
        engine.stop()
    finally:
        chain.close()
        log.info("database closed")
