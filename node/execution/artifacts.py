"""Compiled contracts committed under ``contracts/build/`` (made by ``scripts/compile_contracts``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from node.errors import ConfigError

BUILD_DIR = Path(__file__).resolve().parents[2] / "contracts" / "build"


@dataclasses.dataclass(frozen=True)
class Artifact:
    name: str
    abi: list
    bytecode: bytes
    deployed_bytecode: bytes


def load_artifact(name: str, build_dir: Path = BUILD_DIR) -> Artifact:
    """The artifact of contract ``name``; ConfigError when it has not been compiled."""
    path = build_dir / f"{name}.json"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no compiled contract {name!r} in {build_dir}; run scripts/compile_contracts") from None
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); run scripts/compile_contracts") from None
    return Artifact(name, document["abi"], bytes.fromhex(document["bytecode"][2:]), bytes.fromhex(document["deployedBytecode"][2:]))
