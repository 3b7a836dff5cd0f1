"""Running one node process: open the chain, start the engine, serve the API, shut down cleanly.

Threads: uvicorn's event loop serves HTTP in the main thread (FastAPI runs
blocking handlers in its thread pool); the engine produces blocks in its own
thread. SIGINT/SIGTERM make uvicorn stop accepting requests; then the engine
finishes the block it is writing and the database closes.
"""

from __future__ import annotations

import logging
import sys

from pathlib import Path

from node.config import NodeConfig

log = logging.getLogger("yilian.node")
# worker threads for the API's blocking work (JSON-RPC batches, eth_call, proofs, bulk parses, a custodian's ingest
# waiting for its anchoring transaction): asyncio's default is cores + 4, 6 on 2 cores, which three bulk imports in
# flight and a few proof requests fill
API_THREADS = 32
MAX_CONNECTIONS = 1000  # open API connections and tasks; beyond, uvicorn answers 503 (slow or idle clients cannot starve it)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts (UTC, ISO 8601), level, logger, msg, and exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime
        import json

        document = {"ts": datetime.datetime.fromtimestamp(record.created, datetime.timezone.utc).isoformat(timespec="milliseconds"),
                    "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        if record.exc_info:
            document["exc"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


def configure_logging(level: str = "info", fmt: str = "console", log_file: Path | None = None) -> None:
    """Console (human-readable) or JSON lines, to stderr or to ``log_file`` rotated at 10 MiB (5 kept).

    Nothing the node logs carries a private key, a password, a token or a raw record (a test checks).
    """
    from logging.handlers import RotatingFileHandler

    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = RotatingFileHandler(log_file, maxBytes=10 * 1024 * 1024, backupCount=5, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))


def _serve_until_signalled(server) -> None:  # type: ignore[no-untyped-def]
    """Run uvicorn; SIGINT/SIGTERM stop it and return here (uvicorn's own handling re-raises
    the signal after shutdown, which would kill the process before the database closes)."""
    import asyncio
    import contextlib
    import signal

    from concurrent.futures import ThreadPoolExecutor

    import uvloop

    def stop(signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        server.should_exit = True

    server.capture_signals = contextlib.nullcontext
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        # uvloop: the API's event loop in C (libuv): every JSON-RPC request costs the loop a task, a keep-alive timer
        # and transport calls, which cost the node about as much CPU as the transaction it submitted
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.get_loop().set_default_executor(ThreadPoolExecutor(API_THREADS, thread_name_prefix="api"))
            runner.run(server.serve())
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_node(config: NodeConfig, *, port: int | None = None) -> None:
    """Serve ``config``'s node until interrupted."""
    import uvicorn

    from node.api import create_app
    from node.api.app import JsonRpcFastPath
    from node.chain import Chain
    from node.mempool import Mempool
    from node.metrics import NodeMetrics
    from node.service import NodeService
    from node.solo import SoloEngine

    genesis = config.load_genesis()
    validator_key = config.load_validator_key()
    check_writable(config.data_dir)
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
        custodian, store = _data_service(config, service, engine)
        metrics = NodeMetrics()
        metrics.attach(service, config.data_dir)
        chain.commit_listeners.append(lambda header, certificate: metrics.block_committed(
            header.height, header.time_ms, header.tx_count, certificate.round, [s.validator for s in certificate.signatures]))
        app = create_app(service, custodian=custodian, data_token=_data_token(config), metrics=metrics)
        server = uvicorn.Server(uvicorn.Config(JsonRpcFastPath(app), host=config.api_host, port=port or config.api_port,
                                               log_level="warning", access_log=False, lifespan="off",
                                               limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5))
        def storage_failed(exc: Exception) -> None:
            log.critical("%s; stopping the node", exc)
            server.should_exit = True

        chain.on_storage_failure = storage_failed
        engine.start()
        log.info("node %s: chain %d (%s), height %d, validator 0x%s, %s", config.name, genesis.chain_id,
                 genesis.suite_name, chain.height, validator_key.address.hex(),
                 "solo" if len(chain.validators) == 1 else f"BFT with {len(chain.validators)} validators, p2p {config.p2p_host}:{config.p2p_port}")
        log.info("serving http://%s:%d (REST /v1, JSON-RPC /, docs /docs)", config.api_host, port or config.api_port)
        _serve_until_signalled(server)
        log.info("stopping: finishing the current block")
        engine.stop()
        custodian.pool.close()
        store.close()
    finally:
        chain.close()
        log.info("database closed")
    if chain.storage_failure:
        from node.errors import YilianError

        raise YilianError(f"the node stopped: {chain.storage_failure}")


def _data_token(config: NodeConfig) -> str:
    """The bearer token of the ingest API: ``<home>/secrets/data-token`` (0600), made on first start."""
    import os
    import secrets

    path = config.home / "secrets" / "data-token"
    if not path.exists():
        path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
        log.info("created the data-ingest token in %s", path)
    return path.read_text(encoding="utf-8").strip()


def _data_service(config: NodeConfig, service, engine):  # type: ignore[no-untyped-def]
    """The custodian: the admin key signs its anchors and access logs and derives the at-rest data key."""
    import json

    from node.offchain.custodian import Custodian, CustodianError
    from node.offchain.ingest import IngestPool
    from node.offchain.store import DataStore, derive_data_key

    admin = config.load_admin_key()
    store = DataStore(config.data_dir / "offchain", derive_data_key(admin.secret_bytes()))
    peers = {member.admin: member.peer_id for member in service.chain.genesis.members if member.peer_id}

    def forward(custodian: bytes, request: dict) -> dict:
        from node.views import view

        peer = peers.get(custodian)
        if peer is None:  # a center added after genesis: the peer ID it registered on chain
            peer = view(service.chain, "MemberRegistry", "peerIdOf", "0x" + custodian.hex()) or None
        if peer is None or not hasattr(engine, "request"):
            raise CustodianError(404, "not-custodian", f"0x{custodian.hex()} is not a center this node can reach; send the request "
                                                       "to the custodian's own node")
        try:
            answer = json.loads(engine.request(peer, json.dumps(request).encode()))
        except Exception as exc:  # noqa: BLE001 - the custodian is down or unreachable
            raise CustodianError(502, "custodian-unreachable", f"the custodian center did not answer ({exc}); retry later or ask "
                                                               "its node directly") from None
        if "problem" in answer:
            problem = dict(answer["problem"])
            raise CustodianError(int(problem.pop("status")), str(problem.pop("slug")), str(problem.pop("detail")), **problem)
        return answer["ok"]

    custodian = Custodian(service, admin, store, forward=forward, pool=IngestPool(config.ingest_workers))
    if hasattr(engine, "data_handler"):
        engine.data_handler = custodian.handle_p2p
    log.info("custodian data service: %d record(s) held, encrypted at rest in %s", store.count(), store.path)
    return custodian, store


def set_ledger_aside(config: NodeConfig) -> Path | None:
    """``yilian node --repair``: rename ``<data>/chain`` to ``chain.damaged-<UTC time>`` so that the node starts from
    genesis and block sync fetches (and re-checks) every block from the peers. Only the ledger moves: keys, the
    consensus WAL (own votes, so the validator never signs twice) and the custodian's records stay."""
    import time

    from node.errors import ConfigError

    genesis = config.load_genesis()
    if len(genesis.validators) < 2 or not config.peers:
        raise ConfigError("--repair re-syncs from the other centers, and this consortium has none; restore "
                          f"{config.data_dir / 'chain'} from a backup instead")
    chain = config.data_dir / "chain"
    if not chain.exists():
        log.info("repair: no ledger at %s; the node starts from genesis and syncs", chain)
        return None
    aside = chain.with_name(f"chain.damaged-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}")
    chain.rename(aside)
    log.warning("repair: moved the ledger to %s (delete it once the node has caught up); re-syncing from the peers", aside)
    return aside


def check_writable(directory: Path) -> None:
    """Raise ConfigError unless ``directory`` exists (or can be made) and this user can write files in it."""
    import os
    import tempfile

    from node.errors import ConfigError

    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".write-check-"):
            pass
    except OSError as exc:
        raise ConfigError(f"data directory {directory} is not writable by user {os.getuid()} ({exc.strerror}); fix its owner or "
                          "permissions, or set data_dir in node.json to a writable place") from None


def check_node(config: NodeConfig, *, port: int | None = None) -> list[str]:
    """What `yilian node --check` validates without starting: each check a line; the first failure raises ConfigError."""
    import socket

    from node.errors import ConfigError, YilianError

    done = []
    genesis = config.load_genesis()
    done.append(f"genesis {config.genesis_path}: chain {genesis.chain_id} ({genesis.suite_name}), {len(genesis.validators)} validator(s)")
    try:
        validator = config.load_validator_key()
        admin = config.load_admin_key()
    except YilianError as exc:
        raise ConfigError(f"cannot open the keystores: {exc}") from None
    in_genesis = any(v.address == validator.address for v in genesis.validators)
    done.append(f"validator key 0x{validator.address.hex()} opens" + ("" if in_genesis else " (not a genesis validator: it must be added by governance)"))
    done.append(f"admin key 0x{admin.address.hex()} opens")
    if len(genesis.validators) > 1:
        from node.crypto.keystore import load_ed25519_keystore

        try:
            load_ed25519_keystore(config.p2p_key_path, config.password())
        except YilianError as exc:
            raise ConfigError(f"cannot open the p2p identity {config.p2p_key_path}: {exc}") from None
        done.append(f"p2p identity opens; {len(config.peers)} peer(s) configured")
    check_writable(config.data_dir)
    done.append(f"data directory {config.data_dir} is writable")
    for what, host, number in (("API", config.api_host, port or config.api_port), ("p2p", config.p2p_host, config.p2p_port)):
        if what == "p2p" and len(genesis.validators) == 1:
            continue
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the node's servers do: TIME_WAIT is no obstacle
            try:
                sock.bind((host, number))
            except OSError as exc:
                raise ConfigError(f"{what} port {host}:{number} is not free ({exc.strerror}); is the node already running?") from None
        done.append(f"{what} port {host}:{number} is free")
    ledger = config.data_dir / "chain"
    if ledger.exists():
        done.append(check_ledger(config))
    return done


def check_ledger(config: NodeConfig) -> str:
    """Read every record of the ledger with LevelDB checksums on, then re-check the recent blocks as a peer would
    (what the node also does, for the recent blocks only, each time it opens the ledger). Raises StorageCorruption."""
    from node.chain import Chain
    from node.ledger.db import Database

    with Database(config.data_dir / "chain", create=False) as database:
        records = sum(1 for _ in database.iterate(b"", b"\xff" * 33))
    chain = Chain(config.data_dir, config.load_genesis())  # opening re-checks the last blocks
    try:
        height = chain.height
    finally:
        chain.close()
    return f"ledger {config.data_dir / 'chain'}: {records} records read with checksums, recent blocks re-checked, head {height}"
