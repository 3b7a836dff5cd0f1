"""Create a consortium: keys, certificates, node configs and one genesis for N centers.

Layout written under ``out``::

    genesis.json               shared by every center (public)
    members.json               public summary: names, roles, addresses, peer IDs, URLs
    schemas/<type>.json        the unified data standard the custodians validate records against
    dev-accounts.json          only with dev_accounts > 0: plaintext development keys
    centers/<name>/            one directory per center, to copy to its machine
        node.json              ports, data dir, peers, key paths
        genesis.json           copy of the shared genesis
        keys/validator.json    consensus key (encrypted keystore, 0600)
        keys/admin.json        the center's admin account (encrypted keystore, 0600)
        keys/p2p.json          libp2p Ed25519 identity (encrypted keystore, 0600)
        keys/ca.json           the center's organisation CA key (SM2, encrypted, 0600)
        keys/*.pub.pem         public keys as SubjectPublicKeyInfo PEM
        keys/ca.crt.pem        the organisation CA's self-signed SM2 root certificate
        secrets/password       only when no password was supplied: a random one (0600)

Private keys exist only inside the center directories, always encrypted.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import secrets
import shutil
import string
import time
from collections.abc import Callable
from pathlib import Path

from node.config import GENESIS_FORMAT, NODE_CONFIG_FORMAT, ConsensusParams
from node.crypto import x509
from node.crypto.keystore import save_ed25519_keystore, save_keystore
from node.crypto.peer_id import P2PIdentity
from node.crypto.suites import PrivateKey, get_suite
from node.errors import ConfigError

DEFAULT_CHAIN_ID = 6600
DEFAULT_API_PORT = 8600
DEFAULT_P2P_PORT = 9600
MAX_CENTERS = 64
CA_VALIDITY_DAYS = 3650


@dataclasses.dataclass(frozen=True)
class CenterInfo:
    """What was created for one center (public parts only)."""

    name: str
    organization: str
    home: Path
    validator_address: str
    admin_address: str
    peer_id: str
    api_url: str
    p2p_address: str


@dataclasses.dataclass(frozen=True)
class ConsortiumInfo:
    """The result of :func:`create_consortium`."""

    out: Path
    genesis_path: Path
    chain_id: int
    suite: str
    centers: tuple[CenterInfo, ...]
    dev_accounts_path: Path | None


def center_name(index: int) -> tuple[str, str]:
    """(name, organisation) of the index-th center: center-a … center-z, then center-27 …"""
    letter = string.ascii_lowercase[index] if index < 26 else str(index + 1)
    return f"center-{letter}", f"Public Resource Trading Center {letter.upper()}"


def _write_json(path: Path, document: object, *, private: bool = False) -> None:
    data = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if private:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(data)
        os.chmod(path, 0o600)
    else:
        path.write_text(data, encoding="utf-8")


def _write_private_text(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def _hex(raw: bytes) -> str:
    return "0x" + raw.hex()


MEMBER_REGISTRY_ADDRESS = "0x0000000000000000000000000000000000001000"
RECORD_REGISTRY_ADDRESS = "0x0000000000000000000000000000000000001001"
AUTHORIZATION_ADDRESS = "0x0000000000000000000000000000000000001002"
CERTIFICATE_REGISTRY_ADDRESS = "0x0000000000000000000000000000000000001003"
GUARANTEE_ADDRESS = "0x0000000000000000000000000000000000001004"


def system_contracts(admins: list[bytes], names: list[str], validator_keys: list[bytes], *, suite: str) -> list[dict]:
    """Genesis entries for the system contracts: fixed address and init code with constructor arguments.

    The init code is in genesis itself (not a reference to a build file), so the
    genesis hash commits to the exact code every node deploys.
    """
    from eth_abi import encode

    from node.execution.artifacts import load_artifact

    def init(name: str, types: list[str], args: list) -> str:  # type: ignore[type-arg]
        return _hex(load_artifact(name).bytecode + encode(types, args))

    members, records = MEMBER_REGISTRY_ADDRESS, RECORD_REGISTRY_ADDRESS
    return [
        {"name": "MemberRegistry", "address": members, "init_code": init(
            "MemberRegistry", ["address[]", "string[]", "bytes[]", "bool"], [admins, names, validator_keys, suite == "gm"])},
        {"name": "RecordRegistry", "address": records, "init_code": init("RecordRegistry", ["address"], [members])},
        {"name": "Authorization", "address": AUTHORIZATION_ADDRESS, "init_code": init("Authorization", ["address", "address"], [members, records])},
        {"name": "CertificateRegistry", "address": CERTIFICATE_REGISTRY_ADDRESS, "init_code": init("CertificateRegistry", ["address"], [members])},
        {"name": "Guarantee", "address": GUARANTEE_ADDRESS, "init_code": init("Guarantee", ["address", "address"], [members, records])},
    ]


def _org_ca(organization: str, ca_key: PrivateKey) -> x509.Certificate:
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    return x509.issue_sm2_certificate(
        subject={"CN": f"{organization} Root CA", "O": organization, "C": "CN"},
        subject_public_key=ca_key.public_key,
        issuer_key=ca_key,
        issuer_cert=None,
        serial=secrets.randbits(63) | 1,
        not_before=now - datetime.timedelta(minutes=5),
        not_after=now + datetime.timedelta(days=CA_VALIDITY_DAYS),
        is_ca=True,
        path_length=1,
    )


def create_consortium(
    out: Path | str,
    centers: int = 4,
    *,
    suite: str = "gm",
    chain_id: int = DEFAULT_CHAIN_ID,
    chain_name: str | None = None,
    dev_accounts: int = 0,
    base_api_port: int = DEFAULT_API_PORT,
    base_p2p_port: int = DEFAULT_P2P_PORT,
    host: str = "127.0.0.1",
    by_name: bool = False,
    password: bytes | None = None,
    force: bool = False,
    consensus: ConsensusParams | None = None,
    progress: Callable[[str], None] | None = None,
) -> ConsortiumInfo:
    """Generate a consortium of ``centers`` trading centers under ``out``.

    Every center is a validator, a data custodian and an organisation CA. With ``by_name`` (containers: one
    center per host named after it, e.g. Docker Compose services) every center listens on 0.0.0.0 at the base
    ports and dials the others at ``/dns4/<center name>/tcp/<port>``.
    With ``password`` None each center gets its own random keystore password
    in ``secrets/password``; production operators pass their own.

    Raises:
        ConfigError: bad arguments, or ``out`` already holds a consortium and
            ``force`` is false.
    """
    out = Path(out)
    say = progress or (lambda message: None)
    if not 1 <= centers <= MAX_CENTERS:
        raise ConfigError(f"--centers must be between 1 and {MAX_CENTERS}, got {centers}")
    if not 0 < chain_id < 2**53:
        raise ConfigError(f"--chain-id must be a positive integer below 2**53, got {chain_id}")
    if dev_accounts < 0 or dev_accounts > 100:
        raise ConfigError("dev accounts must be between 0 and 100")
    for base in (base_api_port, base_p2p_port):
        if not 1024 <= base <= 65535 - centers:
            raise ConfigError(f"port base {base} leaves no room for {centers} centers")
    if (out / "genesis.json").exists() or (out / "centers").exists():
        if not force:
            raise ConfigError(f"{out} already holds a consortium; use --force to replace it (its keys will be lost)")
        shutil.rmtree(out / "centers", ignore_errors=True)
        for name in ("genesis.json", "members.json", "dev-accounts.json"):
            (out / name).unlink(missing_ok=True)
    chain_suite = get_suite(suite)
    gm = get_suite("gm")
    out.mkdir(parents=True, exist_ok=True)
    (out / "centers").mkdir()

    plan = []
    for index in range(centers):
        name, organization = center_name(index)
        say(f"[{index + 1}/{centers}] generating keys for {name}")
        plan.append(
            {
                "name": name,
                "organization": organization,
                "validator": chain_suite.generate_key(),
                "admin": chain_suite.generate_key(),
                "p2p": P2PIdentity.generate(),
                "ca_key": gm.generate_key(),
                "api_port": base_api_port + (0 if by_name else index),
                "p2p_port": base_p2p_port + (0 if by_name else index),
            }
        )
    for entry in plan:
        entry["ca_cert"] = _org_ca(entry["organization"], entry["ca_key"])

    # secp256k1 accounts sign standard Ethereum transactions on any chain;
    # SM2 accounts sign native transactions, which only a gm chain accepts.
    dev_kinds = ("ecdsa", "gm") if suite == "gm" else ("ecdsa",)
    dev_keys = []
    for index in range(dev_accounts):
        for kind in dev_kinds:
            dev_keys.append((kind, get_suite(kind).generate_key()))

    genesis = {
        "format": GENESIS_FORMAT,
        "chain_id": chain_id,
        "chain_name": chain_name or f"yilian-{chain_id}",
        "suite": suite,
        "genesis_time_ms": int(time.time() * 1000),
        "consensus": dataclasses.asdict(consensus or ConsensusParams()),
        "validators": [
            {"name": e["name"], "address": _hex(e["validator"].address), "public_key": e["validator"].public_key.hex()}
            for e in plan
        ],
        "members": [
            {
                "name": e["name"],
                "organization": e["organization"],
                "role": "trading_center",
                "admin": _hex(e["admin"].address),
                "validator": _hex(e["validator"].address),
                "peer_id": e["p2p"].peer_id,
                "ca_certificate": e["ca_cert"].to_pem().decode(),
            }
            for e in plan
        ],
        "trusted_cas": [
            {"name": f"{e['organization']} Root CA", "member": e["name"], "certificate": e["ca_cert"].to_pem().decode()}
            for e in plan
        ],
        "accounts": [{"address": _hex(e["admin"].address), "role": "trading_center", "member": e["name"]} for e in plan]
        + [{"address": _hex(key.address), "role": "developer", "member": None} for _, key in dev_keys],
        "contracts": system_contracts(
            [e["admin"].address for e in plan], [e["organization"] for e in plan], [e["validator"].public_key for e in plan],
            suite=chain_suite.name,
        ),
    }
    genesis_path = out / "genesis.json"
    _write_json(genesis_path, genesis)

    infos = []
    for index, entry in enumerate(plan):
        name = entry["name"]
        say(f"[{index + 1}/{centers}] writing {name} (encrypting keystores)")
        home = out / "centers" / name
        identity: P2PIdentity = entry["p2p"]
        peers = [
            {"name": other["name"], "peer_id": other["p2p"].peer_id,
             "address": f"/dns4/{other['name']}/tcp/{other['p2p_port']}" if by_name else f"/ip4/{host}/tcp/{other['p2p_port']}"}
            for other in plan
            if other is not entry
        ]
        listen = "0.0.0.0" if by_name else host
        _write_center_home(home, chain_suite, entry["validator"], entry["admin"], entry["ca_key"], entry["ca_cert"], identity, password,
                           genesis_path, name=name, host=listen, api_port=entry["api_port"], p2p_port=entry["p2p_port"], peers=peers)
        infos.append(
            CenterInfo(
                name=name,
                organization=entry["organization"],
                home=home,
                validator_address=_hex(entry["validator"].address),
                admin_address=_hex(entry["admin"].address),
                peer_id=identity.peer_id,
                api_url=f"http://{entry['name'] if by_name else host}:{entry['api_port']}",
                p2p_address=f"/dns4/{entry['name']}/tcp/{entry['p2p_port']}" if by_name else f"/ip4/{host}/tcp/{entry['p2p_port']}",
            )
        )

    members_summary = {
        "chain_id": chain_id,
        "suite": suite,
        "centers": [
            {
                "name": info.name,
                "organization": info.organization,
                "role": "trading_center",
                "validator": info.validator_address,
                "admin": info.admin_address,
                "peer_id": info.peer_id,
                "api": info.api_url,
                "p2p": info.p2p_address,
            }
            for info in infos
        ],
    }
    _write_json(out / "members.json", members_summary)
    shutil.copytree(Path(__file__).parent / "offchain" / "schemas", out / "schemas", dirs_exist_ok=True)

    dev_path = None
    if dev_keys:
        dev_path = out / "dev-accounts.json"
        _write_json(
            dev_path,
            {
                "warning": "DEVELOPMENT ONLY: these private keys are public. Never use them on a real consortium.",
                "chain_id": chain_id,
                "accounts": [
                    {
                        "suite": kind,
                        "address": _hex(key.address),
                        "private_key": "0x" + key.secret_bytes().hex(),
                        "public_key": key.public_key.hex(),
                    }
                    for kind, key in dev_keys
                ],
            },
            private=True,
        )
    return ConsortiumInfo(
        out=out,
        genesis_path=genesis_path,
        chain_id=chain_id,
        suite=suite,
        centers=tuple(infos),
        dev_accounts_path=dev_path,
    )


@dataclasses.dataclass(frozen=True)
class NewCenter:
    name: str
    home: Path
    admin_address: str
    validator_public_key: str
    peer_id: str
    api_url: str


def add_center(consortium: Path | str, name: str, organization: str, *, api_port: int, p2p_port: int, host: str = "127.0.0.1",
               password: bytes | None = None) -> NewCenter:
    """Prepare a new center's directory for an existing consortium (``yilian center new``).

    Its keys are generated here; the consortium's genesis is copied, and its node dials every center listed in
    ``members.json``. It becomes a member (and, from a decided height, a validator) only when the centers vote
    ``AddCenter`` with its admin address and validator key; it then registers its peer ID on chain
    (``yilian governance join``) so that the other nodes accept its connections.
    """
    consortium = Path(consortium)
    genesis_path, members_path = consortium / "genesis.json", consortium / "members.json"
    if not genesis_path.exists() or not members_path.exists():
        raise ConfigError(f"{consortium} is not a consortium directory (no genesis.json and members.json)")
    if not name or any(c not in string.ascii_lowercase + string.digits + "-" for c in name):
        raise ConfigError(f"center name {name!r}: use lowercase letters, digits and '-'")
    home = consortium / "centers" / name
    if home.exists():
        raise ConfigError(f"{home} already exists")
    genesis = json.loads(genesis_path.read_text(encoding="utf-8"))
    members = json.loads(members_path.read_text(encoding="utf-8"))
    chain_suite, gm = get_suite(genesis["suite"]), get_suite("gm")
    validator, admin, identity, ca_key = chain_suite.generate_key(), chain_suite.generate_key(), P2PIdentity.generate(), gm.generate_key()
    peers = [{"name": c["name"], "peer_id": c["peer_id"], "address": c["p2p"]} for c in members["centers"]]
    _write_center_home(home, chain_suite, validator, admin, ca_key, _org_ca(organization, ca_key), identity, password, genesis_path,
                       name=name, host=host, api_port=api_port, p2p_port=p2p_port, peers=peers)
    entry = {"name": name, "organization": organization, "role": "trading_center", "validator": _hex(validator.address),
             "admin": _hex(admin.address), "peer_id": identity.peer_id, "api": f"http://{host}:{api_port}",
             "p2p": f"/ip4/{host}/tcp/{p2p_port}", "validator_public_key": _hex(validator.public_key), "status": "proposed"}
    members.setdefault("joining", []).append(entry)
    _write_json(members_path, members)
    return NewCenter(name, home, _hex(admin.address), _hex(validator.public_key), identity.peer_id, f"http://{host}:{api_port}")


def _write_center_home(home: Path, chain_suite, validator: PrivateKey, admin: PrivateKey, ca_key: PrivateKey,  # type: ignore[no-untyped-def]
                       ca_cert: x509.Certificate, identity: P2PIdentity, password: bytes | None, genesis_path: Path, *, name: str,
                       host: str, api_port: int, p2p_port: int, peers: list[dict]) -> None:
    """A center's directory: keystores (0600 in a 0700 keys/; without ``password`` a random one in
    secrets/password), public keys as PEM, the CA certificate, a copy of the genesis and node.json."""
    (home / "keys").mkdir(parents=True)
    os.chmod(home / "keys", 0o700)
    if password is None:
        (home / "secrets").mkdir()
        os.chmod(home / "secrets", 0o700)
        key_password = secrets.token_urlsafe(24).encode()
        _write_private_text(home / "secrets" / "password", key_password.decode() + "\n")
    else:
        key_password = password
    save_keystore(home / "keys" / "validator.json", validator, key_password)
    save_keystore(home / "keys" / "admin.json", admin, key_password)
    save_keystore(home / "keys" / "ca.json", ca_key, key_password)
    save_ed25519_keystore(home / "keys" / "p2p.json", identity.seed, identity.public_key, identity.peer_id, key_password)
    (home / "keys" / "validator.pub.pem").write_bytes(chain_suite.public_pem(validator.public_key))
    (home / "keys" / "admin.pub.pem").write_bytes(chain_suite.public_pem(admin.public_key))
    (home / "keys" / "ca.pub.pem").write_bytes(get_suite("gm").public_pem(ca_key.public_key))
    (home / "keys" / "ca.crt.pem").write_bytes(ca_cert.to_pem())
    shutil.copyfile(genesis_path, home / "genesis.json")
    _write_json(home / "node.json", {
        "format": NODE_CONFIG_FORMAT, "name": name, "genesis": "genesis.json", "data_dir": "data",
        "api": {"host": host, "port": api_port}, "p2p": {"host": host, "port": p2p_port, "peers": peers},
        "keys": {"validator": "keys/validator.json", "admin": "keys/admin.json", "p2p": "keys/p2p.json", "ca": "keys/ca.json",
                 "ca_certificate": "keys/ca.crt.pem"},
        "password_file": "secrets/password" if password is None else None, "log_level": "info"})
