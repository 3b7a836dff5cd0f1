"""A center as custodian: ingest records (validate → canonicalize → salt → anchor → store encrypted) and serve
them to grantees under live on-chain grants.

Serving, step by step (README: *Data sharing*):

1. the grantee signs an access request ``{record_id, grant_id, grantee_public_key, custodian, timestamp,
   nonce}`` (SM2 over ``YILIAN/data-access/v1\\0`` ‖ canonical JSON); the custodian checks the signature,
   that it is addressed to it, fresh (±120 s) and never seen (nonce);
2. it checks the grant on chain: known, granted to this requester, not revoked, inside its window, uses
   left, and covering the record (by id or by the owner's record type);
3. it logs the access on chain (``Authorization.logAccess``, which re-checks the grant and spends one use)
   — or, when refused, logs the refusal (``logRefusal``) with the reason and answers 403;
4. it answers the record and its salt sealed with SM4-GCM under a fresh key, the key in an SM2 envelope to
   the grantee's public key; the grantee checks ``SM3(salt ‖ canonical record)`` against the chain.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from chain_sdk import records
from chain_sdk.contracts import decode_error
from chain_sdk.data import access_signing_bytes
from node.crypto import get_suite, sm4
from node.crypto.suites import PrivateKey
from node.errors import ValidationError, YilianError
from node.offchain import ingest
from node.offchain.store import DataStore
from node.ledger.merkle import merkle_levels_of_hashes, proof_from_levels
from node.views import BINDINGS, ContractReverted, view

log = logging.getLogger("yilian.custodian")

REQUEST_WINDOW_S = 120
TX_WAIT_S = 30.0
MAX_BATCH = 10_000
RACE_REASONS = {"GrantRevoked": "the grant was revoked", "GrantExpired": "the grant expired", "NotAuthorized": "the grant is used up or "
                "no longer covers the record", "UnknownGrant": "no such grant"}


class CustodianError(YilianError):
    """A request the custodian refuses; ``status`` is the HTTP status, ``slug`` the problem type."""

    def __init__(self, status: int, slug: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.extra = status, slug, detail, extra


@dataclass(frozen=True)
class Sent:
    tx_hash: bytes
    height: int
    logs: tuple


class ChainPort:
    """The custodian's own access to the chain, in process: views on the head state, and transactions from the
    center's admin account submitted to this node's pool and waited for."""

    def __init__(self, service, admin: PrivateKey) -> None:  # type: ignore[no-untyped-def]
        self.service, self.admin = service, admin
        self.chain = service.chain
        self._nonce_lock = threading.Lock()

    def view(self, contract: str, fn: str, *args: Any) -> Any:
        return view(self.chain, contract, fn, *args)

    def send(self, contract: str, fn: str, *args: Any, gas: int = 5_000_000) -> Sent:
        from node.types import Transaction

        binding = BINDINGS[contract]
        with self._nonce_lock:
            address = self.admin.address
            nonce = self.service.mempool.pending_nonce(address, self.chain.executor.head_nonce(address))
            tx = Transaction(self.chain.chain_id, nonce, address, bytes.fromhex(binding.address[2:]), 0, binding.encode(fn, *args), gas,
                             self.chain.height + 1_000).signed(self.admin)
            submitted = self.service.submit(tx.encode())
        record = self.service.wait_for(submitted.hash, TX_WAIT_S)
        if record.height is None:
            raise CustodianError(503, "not-included", f"{contract}.{fn} was not included within {TX_WAIT_S:.0f} s; the chain may be "
                                                      "stalled (check /v1/status); retry later")
        _, receipt = self.service.receipt(submitted.hash)
        if receipt.status != 1:
            name, _ = decode_error(receipt.output)
            raise ContractReverted(f"{contract}.{fn}", name, receipt.revert_reason)
        return Sent(submitted.hash, record.height, receipt.logs)


class Claims:
    """Record ids claimed by the ingests under way in one custodian (batches and single records), from their duplicate
    check until they are anchored or given up: of two requests naming one local id at once, the later is refused for
    it, while everything else two batches do (preparing, hashing, writing, waiting for the chain) runs side by side."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: dict[bytes, bytes] = {}  # record id → the request (batch id) that claimed it
        self._claimed: dict[bytes, list[bytes]] = {}  # request → its record ids

    def claim(self, request: bytes, record_ids: list[bytes]) -> set[bytes]:
        """Claim ``record_ids`` for ``request``; returns those another request holds (left unclaimed)."""
        with self._lock:
            busy = {record_id for record_id in record_ids if self._owner.setdefault(record_id, request) != request}
            self._claimed.setdefault(request, []).extend(record_id for record_id in record_ids if record_id not in busy)
        return busy

    def release(self, request: bytes) -> None:
        with self._lock:
            for record_id in self._claimed.pop(request, ()):
                self._owner.pop(record_id, None)


def held_indices(store: DataStore, custodian: bytes, items: list, claims: tuple[Claims, bytes] | None = None) -> tuple[list[int], list[int]]:
    """(indices of the batch's items whose local id this store already holds, or that an earlier item names too;
    indices of those another request under way claimed). ``claims``: (the custodian's claims, this batch's id) —
    the batch's ids are claimed before the store is read, so that of two batches naming one id, one sees the other.
    Only the local ids are needed, so a node runs this while its workers prepare the batch."""
    held, first = [], {}
    record_id_of = records.record_id_of(custodian)
    for index, item in enumerate(items):
        local_id = item.get("local_id") if isinstance(item, dict) else None
        if isinstance(local_id, str):  # (any other value is refused by the preparation)
            try:
                record_id = record_id_of(local_id)
            except UnicodeEncodeError:  # a lone surrogate: refused by the preparation too
                continue
            if record_id in first:
                held.append(index)
            else:
                first[record_id] = index
    busy = claims[0].claim(claims[1], list(first)) if claims is not None else set()
    # in key order: neighbouring ids share LevelDB's blocks (10,000 new ids against 200,000 / 300,000 stored, without
    # the store's bloom filter: 6-9 / 6-8 µs a lookup, in random order 16 / 13-24 µs)
    held += [first[record_id] for record_id in sorted(first) if record_id not in busy and store.holds(record_id)]
    return sorted(held), sorted(first[record_id] for record_id in busy)


def store_prepared(store: DataStore, items: list, batch: bytes, results: ingest.Prepared, problems: list[dict],
                   held: tuple[list[int], list[int]]) -> tuple[list[tuple[bytes, str]], bytes]:
    """The rest of a batch's custodian work once its items are prepared and sealed (:meth:`ingest.IngestPool.prepare`
    for batch id ``batch``: one result per item, None where it failed) and checked (``held``: :func:`held_indices`):
    refuse local ids already held, named twice or claimed by another request, build the Merkle tree (SM3, as
    ``RecordRegistry.verifyInBatch`` checks it on every chain), and store the entries and the tree in one write:
    ([(record id, local id)], root). Raises CustodianError listing problems."""
    for indices, detail in ((held[0], "is already held (or twice in the batch); update it with a single ingest"),
                            (held[1], "is being ingested by another request right now; send it again once that one is done")):
        for index in indices:
            if results[index] is not None:  # (an item that failed already has its problem)
                problems.append({"index": index, "field": f"records[{index}].local_id", "detail": f"{items[index]['local_id']!r} {detail}"})
    if problems:
        problems.sort(key=lambda problem: problem["index"])
        raise CustodianError(422, "invalid-records", f"{len(problems)} of {len(results)} records do not meet the data standard; "
                                                     "nothing was anchored", problems=problems[:100])
    prepared = [result for result in results if result is not None]  # all of them: an item that failed left a problem
    levels = merkle_levels_of_hashes(get_suite("gm"), [leaf for _, leaf, _ in prepared])
    store.put_sealed([(record_id, box) for record_id, _, box in prepared], tree=(batch, levels))
    return [(record_id, item["local_id"]) for (record_id, _, _), item in zip(prepared, items)], levels[-1][0]


class Custodian:
    def __init__(self, service, admin: PrivateKey, store: DataStore,  # type: ignore[no-untyped-def]
                 forward: Callable[[bytes, dict], dict] | None = None, pool: ingest.IngestPool | None = None) -> None:
        self.port = ChainPort(service, admin)
        self.suite = service.chain.suite  # access-request signatures and envelopes; records use SM3 on every chain
        self.store = store
        self.address = admin.address
        self.forward = forward  # (custodian admin address, request) -> answer, over libp2p
        self.pool = pool or ingest.IngestPool(workers=1)  # bulk imports in worker processes (the runner gives the node one)
        self.claims = Claims()

    # -- ingest ---------------------------------------------------------------------------------

    def ingest(self, item: dict) -> dict:
        """Validate, anchor (or update, when the local id is known) and store one record."""
        record_id, entry = ingest.prepare(self.address, item, "")
        request = os.urandom(16)
        if self.claims.claim(request, [record_id]):
            raise CustodianError(409, "record-busy", f"record {item['local_id']!r} is being ingested by another request right now; "
                                                     "send it again once that one is done")
        try:
            return self._ingest_claimed(item, record_id, entry)
        finally:
            self.claims.release(request)

    def _ingest_claimed(self, item: dict, record_id: bytes, entry: dict) -> dict:
        previous = self.store.get(record_id)
        type_id = records.record_type(entry["type"])
        if previous is not None:
            if previous["owner"] != entry["owner"] or previous["type"] != entry["type"]:
                raise ValidationError("owner", f"record {item['local_id']!r} exists with another owner or type; use a new local id")
            entry["version"] = previous["version"] + 1
        self.store.put(record_id, entry)  # written ahead: the raw record is never lost once anchored
        try:
            if previous is None:
                sent = self.port.send("RecordRegistry", "anchor", record_id, type_id, _address(entry["owner"]), entry["commitment"],
                                      entry["schema_version"])
            else:
                if previous["batch"] is not None:
                    self._open_from_batch(record_id, previous)
                sent = self.port.send("RecordRegistry", "update", record_id, entry["commitment"], entry["schema_version"])
        except BaseException:
            if previous is None:
                self.store.delete_many([record_id])
            else:
                self.store.put(record_id, previous)
            raise
        log.info("anchored %s record %s (v%d) in block %d", entry["type"], "0x" + record_id.hex()[:16], entry["version"], sent.height)
        return {"record_id": "0x" + record_id.hex(), "local_id": entry["local_id"], "type": entry["type"], "version": entry["version"],
                "commitment": "0x" + entry["commitment"].hex(), "tx_hash": "0x" + sent.tx_hash.hex(), "height": sent.height}

    def ingest_batch(self, items: list[dict], progress: Callable[[str], None] | None = None) -> dict:
        """Validate all (a batch is accepted whole or refused with every problem listed), anchor one Merkle root."""
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
            raise ValidationError("records", f"a batch holds 1 to {MAX_BATCH} records")
        batch = os.urandom(16)  # the batch's id in this data store, which its entries name (and its claims' owner)
        try:
            with ingest.collector_paused():
                stored, root = self._store_batch(items, batch)
            try:
                sent = self.port.send("RecordRegistry", "anchorBatch", root, len(stored))
            except BaseException:
                self.store.delete_many([record_id for record_id, _ in stored], batch_id=batch)
                raise
        finally:
            self.claims.release(batch)  # (after a failed anchoring, once its entries are gone again)
        log.info("anchored a batch of %d records, root %s, in block %d", len(stored), "0x" + root.hex()[:16], sent.height)
        return {"root": "0x" + root.hex(), "size": len(stored), "tx_hash": "0x" + sent.tx_hash.hex(), "height": sent.height,
                "records": [{"local_id": local_id, "record_id": "0x" + record_id.hex()} for record_id, local_id in stored]}

    def _store_batch(self, items: list, batch: bytes) -> tuple[list[tuple[bytes, str]], bytes]:
        """Prepare, seal, check and store a batch (its entries and tree in one write): ([(record id, local id)], root).
        The batch's record ids are claimed (:class:`Claims`, released by the caller), so batches need no lock between
        them: one prepares while another builds its tree and writes (4 validators on 2 cores, batches of 10,000 with 2
        in flight: the workers sat idle while a lock held the next batch back from the last one's tree and write)."""
        held: list[tuple[list[int], list[int]]] = []
        results, problems = self.pool.prepare(self.address, self.store.key, batch, items,  # in worker processes when large
                                              meanwhile=lambda: held.append(held_indices(self.store, self.address, items, (self.claims, batch))))
        return store_prepared(self.store, items, batch, results, problems, held[0])

    def _open_from_batch(self, record_id: bytes, entry: dict) -> None:
        """Make a batch-anchored record individually addressable on chain (grants and logs need it)."""
        try:
            self.port.view("RecordRegistry", "record", record_id)
            return
        except ContractReverted as exc:
            if exc.error != "UnknownRecord":
                raise
        batch = entry["batch"]
        path, root = batch.get("path"), batch.get("root")  # entries written before batch trees were stored carry their path
        if path is None:
            levels = self.store.tree(batch)
            if levels is None or len(levels[0]) != batch["size"]:
                raise CustodianError(503, "missing-batch-tree", f"the Merkle tree of the batch of record 0x{record_id.hex()} is missing "
                                                                "from this center's data store; restore the data store from its backup")
            path, root = proof_from_levels(levels, batch["index"]).path, levels[-1][0]
        self.port.send("RecordRegistry", "anchorFromBatch", root, batch["index"], list(path), record_id,
                       records.record_type(entry["type"]), _address(entry["owner"]), entry["commitment"], entry["schema_version"])

    # -- serving -------------------------------------------------------------------------------------

    def describe(self, record_id: bytes) -> dict:
        """What anyone may know: whether this center holds the record and its on-chain anchor (never the data)."""
        entry = self.store.get(record_id)
        answer: dict[str, Any] = {"record_id": "0x" + record_id.hex(), "held_here": entry is not None, "anchored": None}
        if entry is not None and entry["batch"] is not None:
            root = self.store.batch_root(entry["batch"])
            answer["batch_root"] = None if root is None else "0x" + root.hex()
        try:
            owner, custodian, commitment, type_id, schema_version, version, revoked, updated_at = self.port.view(
                "RecordRegistry", "record", record_id)
            answer["anchored"] = {"owner": owner, "custodian": custodian, "commitment": "0x" + commitment.hex(), "version": version,
                                  "schema_version": schema_version, "revoked": revoked, "updated_at_block": updated_at}
        except ContractReverted:
            pass
        return answer

    def access(self, request: dict) -> dict:
        """Serve a grantee's signed request, here or — when another center holds the record — through it."""
        record_id, grant_id, grantee_key, custodian = self._check_request_shape(request)
        if custodian != self.address:
            if self.forward is None:
                raise CustodianError(404, "not-custodian", f"the request is addressed to custodian 0x{custodian.hex()}, not this center; "
                                                           "send it to that center's node")
            return self.forward(custodian, request)
        return self._serve(request, record_id, grant_id, grantee_key)

    def _check_request_shape(self, request: dict) -> tuple[bytes, bytes, bytes, bytes]:
        if not isinstance(request, dict):
            raise ValidationError("request", "a JSON object")

        def hex_field(name: str, size: int) -> bytes:
            value = request.get(name)
            try:
                raw = bytes.fromhex(value.removeprefix("0x"))  # type: ignore[union-attr]
            except (AttributeError, ValueError):
                raise ValidationError(name, "missing or not hex") from None
            if len(raw) != size:
                raise ValidationError(name, f"{size} bytes expected")
            return raw

        return hex_field("record_id", 32), hex_field("grant_id", 32), hex_field("grantee_public_key", 65), hex_field("custodian", 20)

    def _serve(self, request: dict, record_id: bytes, grant_id: bytes, grantee_key: bytes) -> dict:
        grantee = self.suite.address(grantee_key)
        signature = request.get("signature", "")
        message = access_signing_bytes(request)
        try:
            signed = self.suite.verify(grantee_key, message, bytes.fromhex(str(signature).removeprefix("0x")))
        except ValueError:
            signed = False
        if not signed:
            raise CustodianError(401, "bad-signature", "the access request is not signed by the grantee key it names")
        timestamp = request.get("timestamp")
        if not isinstance(timestamp, int) or abs(time.time() - timestamp) > REQUEST_WINDOW_S:
            raise CustodianError(401, "stale-request", f"the request's timestamp is more than {REQUEST_WINDOW_S} s from this center's "
                                                       "clock; sign a fresh request")
        nonce = request.get("nonce")
        if not isinstance(nonce, str) or not 16 <= len(nonce) <= 64:
            raise ValidationError("nonce", "16 to 64 hex characters")
        if not self.store.first_use(nonce.encode(), timestamp + REQUEST_WINDOW_S):
            raise CustodianError(409, "replayed-request", "this access request was already used; sign a new one")
        entry = self.store.get(record_id)
        if entry is None:
            raise CustodianError(404, "unknown-record", f"this center holds no record 0x{record_id.hex()}")
        if entry["batch"] is not None:
            self._open_from_batch(record_id, entry)
        reason = self._refusal_reason(grant_id, grantee, record_id)
        if reason is None:
            try:
                sent = self.port.send("Authorization", "logAccess", grant_id, record_id)
            except ContractReverted as exc:  # the grant changed between the check and the block (revoked, expired, used up)
                reason = RACE_REASONS.get(exc.error, f"refused by the chain ({exc.error})")
        if reason is not None:
            sent = self.port.send("Authorization", "logRefusal", record_id, _address(grantee), grant_id, reason)
            log.info("refused record %s to 0x%s: %s (logged in block %d)", "0x" + record_id.hex()[:16], grantee.hex(), reason, sent.height)
            raise CustodianError(403, "access-refused", f"access refused: {reason}; the refusal is logged on chain",
                                 reason=reason, refusal_tx="0x" + sent.tx_hash.hex())
        content_key = sm4.generate_key()
        payload = json.dumps({"record": json.loads(entry["record"]), "salt": "0x" + entry["salt"].hex(), "type": entry["type"],
                              "version": entry["version"]}, ensure_ascii=False).encode()
        log.info("served record %s to 0x%s under grant %s (access logged in block %d)", "0x" + record_id.hex()[:16], grantee.hex(),
                 "0x" + grant_id.hex()[:16], sent.height)
        return {"record_id": "0x" + record_id.hex(), "custodian": "0x" + self.address.hex(), "grant_id": "0x" + grant_id.hex(),
                "access_tx": "0x" + sent.tx_hash.hex(), "access_height": sent.height,
                "envelope": "0x" + self.suite.encrypt(grantee_key, content_key).hex(),
                "ciphertext": "0x" + sm4.seal(content_key, payload, record_id).hex()}

    def _refusal_reason(self, grant_id: bytes, grantee: bytes, record_id: bytes) -> str | None:
        try:
            terms, uses, revoked = self.port.view("Authorization", "grantTerms", grant_id)
        except ContractReverted:
            return "no such grant"
        owner, to, record_ids, record_types, _purpose, not_before, not_after, max_uses, _nonce = terms
        now = max(int(time.time()), self.port.chain.head_header().time_ms // 1000)  # the next block's time, at the earliest
        if to.lower() != "0x" + grantee.hex():
            return "the grant is for another grantee"
        if revoked:
            return "the grant was revoked"
        if now > not_after:
            return "the grant expired"
        if now < not_before:
            return "the grant is not yet valid"
        if max_uses and uses >= max_uses:
            return "the grant is used up"
        if not self.port.view("Authorization", "covers", grant_id, record_id):
            return "the record is outside the grant's scope"
        return None

    def handle_p2p(self, payload: bytes) -> bytes:
        """A center forwarded a grantee's request over libp2p: answer it like REST would (never raises)."""
        try:
            try:
                request = json.loads(payload)
            except (ValueError, RecursionError):
                raise ValidationError("request", "not a JSON object") from None
            record_id, grant_id, grantee_key, custodian = self._check_request_shape(request)
            if custodian != self.address:
                raise CustodianError(404, "not-custodian", "this center is not the record's custodian")
            answer: dict = {"ok": self._serve(request, record_id, grant_id, grantee_key)}
        except CustodianError as exc:
            answer = {"problem": {"status": exc.status, "slug": exc.slug, "detail": exc.detail, **exc.extra}}
        except ValidationError as exc:
            answer = {"problem": {"status": 400, "slug": "invalid-input", "detail": str(exc), "field": exc.field}}
        except Exception as exc:  # noqa: BLE001 - reported to the asking center, never crashes the handler
            log.warning("forwarded data request failed: %s", exc)
            answer = {"problem": {"status": 502, "slug": "custodian-error", "detail": f"the custodian could not serve: {exc}"}}
        return json.dumps(answer).encode()


def _address(raw: bytes) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(raw)
