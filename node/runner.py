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
        engine = SoloEngine(chain, mempool, validator_key)
        service = NodeService(chain, mempool, name=config.name, engine=engine)
        app = create_app(service)
        server = uvicorn.Server(uvicorn.Config(app, host=config.api_host, port=port or config.api_port,
                                               log_level="warning", access_log=False, lifespan="off"))
        engine.start()
        log.info("node %s: chain %d (%s), height %d, validator 0x%s", config.name, genesis.chain_id,
                 genesis.suite_name, chain.height, validator_key.address.hex())
        log.info("serving http://%s:%d (REST /v1, JSON-RPC /, docs /docs)", config.api_host, port or config.api_port)
        _serve_until_signalled(server)
        log.info("stopping: finishing the current block")
        engine.stop()
    finally:
        chain.close()
        log.info("database closed")
