"""Genesis and node configuration: loaded once from files, then passed around as objects.

``genesis.json`` is shared by every center and fixes the chain: id, crypto
suite, validators, members, trusted CA roots, admitted accounts, consensus
timeouts and (later) system contracts. ``node.json`` is one center's own
settings: ports, data directory, peers and where its keys are. Both formats
are described field by field in ``config/consortium/README.md``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from node.crypto.keystore import load_keystore, read_password
from node.crypto.suites import PrivateKey, Suite, get_suite
from node.errors import ConfigError
from node.types.validators import Validator, ValidatorSet

GENESIS_FORMAT = 1
NODE_CONFIG_FORMAT = 1

ROLES = ("trading_center", "financial_institution", "certificate_authority", "auditor", "enterprise")


def _hex(value: str, field: str, size: int | None = None) -> bytes:
    if not isinstance(value, str):
        raise ConfigError(f"{field}: expected a hex string")
    text = value[2:] if value.startswith("0x") else value
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"{field}: {value!r} is not hex") from None
    if size is not None and len(raw) != size:
        raise ConfigError(f"{field}: expected {size} bytes, got {len(raw)}")
    return raw


def _require(document: dict, key: str, where: str) -> Any:
    if key not in document:
        raise ConfigError(f"{where}: missing field '{key}'")
    return document[key]


@dataclasses.dataclass(frozen=True)
class ConsensusParams:
    """Timeouts (grow by ``timeout_delta_ms`` per round) and block limits."""

    timeout_propose_ms: int = 1000
    timeout_prevote_ms: int = 500
    timeout_precommit_ms: int = 500
    timeout_delta_ms: int = 500
    max_block_txs: int = 5000
    max_block_gas: int = 200_000_000
    empty_block_interval_ms: int = 5000

    @classmethod
    def from_json(cls, document: dict) -> ConsensusParams:
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = set(document) - known
        if unknown:
            raise ConfigError(f"genesis.consensus: unknown fields {sorted(unknown)}")
        for key, value in document.items():
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"genesis.consensus.{key}: expected a positive integer, got {value!r}")
        return cls(**document)


@dataclasses.dataclass(frozen=True)
class Member:
    """A consortium member organisation (a center, a bank, a CA, an auditor)."""

    name: str
    organization: str
    role: str
    admin: bytes
    validator: bytes | None = None
    peer_id: str | None = None
    ca_certificate: str | None = None


@dataclasses.dataclass(frozen=True)
class Account:
    """An account admitted to send transactions from genesis on."""

    address: bytes
    role: str
    member: str | None = None
    balance: int = 0


@dataclasses.dataclass(frozen=True)
class TrustedCA:
    """A certificate authority the consortium trusts (PEM of its root certificate)."""

    name: str
    certificate_pem: str
    member: str | None = None


@dataclasses.dataclass(frozen=True)
class Genesis:
    """The consortium's genesis: everything a node or an auditor needs to start."""

    chain_id: int
    chain_name: str
    suite_name: str
    genesis_time_ms: int
    consensus: ConsensusParams
    validators: tuple[Validator, ...]
    members: tuple[Member, ...]
    trusted_cas: tuple[TrustedCA, ...]
    accounts: tuple[Account, ...]
    contracts: tuple[dict, ...] = ()
    raw: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    @property
    def suite(self) -> Suite:
        return get_suite(self.suite_name)

    def validator_set(self) -> ValidatorSet:
        return ValidatorSet.of(list(self.validators))

    def admitted_addresses(self) -> frozenset[bytes]:
        return frozenset(account.address for account in self.accounts)

    def member(self, name: str) -> Member:
        for member in self.members:
            if member.name == name:
                return member
        raise ConfigError(f"genesis has no member named {name!r}")

    def hash(self) -> bytes:
        """The suite hash of the canonical JSON of this genesis (identifies the chain)."""
        canonical = json.dumps(self.raw, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return self.suite.hash(canonical.encode())

    @classmethod
    def from_json(cls, document: dict) -> Genesis:
        """Parse and check a genesis document.

        Raises:
            ConfigError: naming the field at fault.
        """
        if not isinstance(document, dict):
            raise ConfigError("genesis: expected a JSON object")
        if document.get("format") != GENESIS_FORMAT:
            raise ConfigError(f"genesis.format: expected {GENESIS_FORMAT}, got {document.get('format')!r}")
        chain_id = _require(document, "chain_id", "genesis")
        if not isinstance(chain_id, int) or isinstance(chain_id, bool) or not 0 < chain_id < 2**53:
            raise ConfigError(f"genesis.chain_id: expected a positive integer, got {chain_id!r}")
        suite_name = _require(document, "suite", "genesis")
        if suite_name not in ("gm", "ecdsa"):
            raise ConfigError(f"genesis.suite: {suite_name!r} is not 'gm' or 'ecdsa'")
        suite = get_suite(suite_name)
        validators = []
        for index, entry in enumerate(_require(document, "validators", "genesis")):
            where = f"genesis.validators[{index}]"
            public_key = _hex(_require(entry, "public_key", where), f"{where}.public_key", 65)
            address = _hex(_require(entry, "address", where), f"{where}.address", 20)
            if suite.address(public_key) != address:
                raise ConfigError(f"{where}.address: does not match its public key under suite {suite_name}")
            validators.append(Validator(address, public_key))
        if not validators:
            raise ConfigError("genesis.validators: at least one validator is needed")
        members = []
        for index, entry in enumerate(_require(document, "members", "genesis")):
            where = f"genesis.members[{index}]"
            role = _require(entry, "role", where)
            if role not in ROLES:
                raise ConfigError(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
            validator = entry.get("validator")
            members.append(
                Member(
                    name=_require(entry, "name", where),
                    organization=entry.get("organization", ""),
                    role=role,
                    admin=_hex(_require(entry, "admin", where), f"{where}.admin", 20),
                    validator=_hex(validator, f"{where}.validator", 20) if validator else None,
                    peer_id=entry.get("peer_id"),
                    ca_certificate=entry.get("ca_certificate"),
                )
            )
        accounts = []
        for index, entry in enumerate(document.get("accounts", [])):
            where = f"genesis.accounts[{index}]"
            balance = entry.get("balance", "0")
            try:
                balance_value = int(balance, 0) if isinstance(balance, str) else int(balance)
            except ValueError:
                raise ConfigError(f"{where}.balance: {balance!r} is not an integer") from None
            accounts.append(
                Account(
                    address=_hex(_require(entry, "address", where), f"{where}.address", 20),
                    role=_require(entry, "role", where),
                    member=entry.get("member"),
                    balance=balance_value,
                )
            )
        trusted = [
            TrustedCA(
                name=_require(entry, "name", f"genesis.trusted_cas[{index}]"),
                certificate_pem=_require(entry, "certificate", f"genesis.trusted_cas[{index}]"),
                member=entry.get("member"),
            )
            for index, entry in enumerate(document.get("trusted_cas", []))
        ]
        return cls(
            chain_id=chain_id,
            chain_name=document.get("chain_name", f"yilian-{chain_id}"),
            suite_name=suite_name,
            genesis_time_ms=int(_require(document, "genesis_time_ms", "genesis")),
            consensus=ConsensusParams.from_json(document.get("consensus", {})),
            validators=tuple(validators),
            members=tuple(members),
            trusted_cas=tuple(trusted),
            accounts=tuple(accounts),
            contracts=tuple(document.get("contracts", [])),
            raw=document,
        )


def load_genesis(path: Path | str) -> Genesis:
    """Read ``genesis.json``; raises ConfigError with the file and field at fault."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"genesis file {path} does not exist: run `yilian init` first") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read genesis file {path}: {exc}") from None
    try:
        return Genesis.from_json(document)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


@dataclasses.dataclass(frozen=True)
class Peer:
    """A peer from the node's config: its name, libp2p peer ID and multiaddress."""

    name: str
    peer_id: str
    address: str


@dataclasses.dataclass(frozen=True)
class NodeConfig:
    """One center's node settings; relative paths are resolved against ``home``."""

    name: str
    home: Path
    genesis_path: Path
    data_dir: Path
    api_host: str
    api_port: int
    p2p_host: str
    p2p_port: int
    peers: tuple[Peer, ...]
    validator_key_path: Path
    admin_key_path: Path
    p2p_key_path: Path
    ca_key_path: Path
    ca_certificate_path: Path
    password_file: Path | None
    log_level: str = "info"
    ingest_workers: int | None = None  # processes for bulk imports; None: node.offchain.ingest.configured_workers(); 0 or 1: none

    def password(self) -> bytes:
        """The keystore password: the configured file, else $YILIAN_KEY_PASSWORD."""
        return read_password(self.password_file)

    def load_validator_key(self) -> PrivateKey:
        return load_keystore(self.validator_key_path, self.password())

    def load_admin_key(self) -> PrivateKey:
        return load_keystore(self.admin_key_path, self.password())

    def load_genesis(self) -> Genesis:
        return load_genesis(self.genesis_path)

    @property
    def api_url(self) -> str:
        return f"http://{self.api_host}:{self.api_port}"


def load_node_config(home: Path | str) -> NodeConfig:
    """Read ``HOME/node.json``.

    Raises:
        ConfigError: missing file or field, naming which.
    """
    home = Path(home).resolve()
    path = home / "node.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist: is {home} a center directory made by `yilian init`?") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    where = str(path)
    if document.get("format") != NODE_CONFIG_FORMAT:
        raise ConfigError(f"{where}: format must be {NODE_CONFIG_FORMAT}")
    api = _require(document, "api", where)
    p2p = _require(document, "p2p", where)
    keys = _require(document, "keys", where)
    for section, name in ((api, "api"), (p2p, "p2p")):
        port = section.get("port")
        if not isinstance(port, int) or not 0 <= port < 65536:
            raise ConfigError(f"{where}: {name}.port must be an integer 0..65535, got {port!r}")
    peers = tuple(
        Peer(
            name=_require(entry, "name", f"{where}: p2p.peers[{index}]"),
            peer_id=_require(entry, "peer_id", f"{where}: p2p.peers[{index}]"),
            address=_require(entry, "address", f"{where}: p2p.peers[{index}]"),
        )
        for index, entry in enumerate(p2p.get("peers", []))
    )
    password_file = document.get("password_file")
    ingest_workers = document.get("ingest_workers")
    if ingest_workers is not None and (not isinstance(ingest_workers, int) or isinstance(ingest_workers, bool) or not 0 <= ingest_workers <= 64):
        raise ConfigError(f"{where}: ingest_workers must be an integer 0..64 (0 or 1: bulk imports in the node process), got {ingest_workers!r}")
    return NodeConfig(
        name=_require(document, "name", where),
        home=home,
        genesis_path=home / document.get("genesis", "genesis.json"),
        data_dir=home / document.get("data_dir", "data"),
        api_host=api.get("host", "127.0.0.1"),
        api_port=api["port"],
        p2p_host=p2p.get("host", "127.0.0.1"),
        p2p_port=p2p["port"],
        peers=peers,
        validator_key_path=home / _require(keys, "validator", f"{where}: keys"),
        admin_key_path=home / _require(keys, "admin", f"{where}: keys"),
        p2p_key_path=home / _require(keys, "p2p", f"{where}: keys"),
        ca_key_path=home / _require(keys, "ca", f"{where}: keys"),
        ca_certificate_path=home / _require(keys, "ca_certificate", f"{where}: keys"),
        password_file=home / password_file if password_file else None,
        log_level=document.get("log_level", "info"),
        ingest_workers=ingest_workers,
    )
