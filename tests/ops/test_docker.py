"""Docker deployment, checked without a Docker engine: the Compose file and Dockerfile refer to commands, options,
paths and ports that exist, and the image's command runs outside Docker and passes the image's health check."""

from __future__ import annotations

import json
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from chainutil import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
DOCKERFILE = (ROOT / "docker" / "Dockerfile").read_text()


def yilian_help(*command: str) -> str:
    return subprocess.run([sys.executable, "-m", "node.cli", *command, "--help"], capture_output=True, text=True, check=True).stdout


def _options(args: list[str]) -> list[str]:
    return [a for a in args if a.startswith("--")]


def test_dockerfile_is_slim_non_root_with_a_healthcheck_and_copies_what_exists():
    assert re.search(r"^FROM python:3\.11-slim", DOCKERFILE, re.M)
    user = re.search(r"^USER (\S+)", DOCKERFILE, re.M)
    assert user and user.group(1) not in ("root", "0")
    assert "HEALTHCHECK" in DOCKERFILE and "/v1/status" in DOCKERFILE
    for source in re.findall(r"^COPY (\S+)", DOCKERFILE, re.M):
        assert (ROOT / source).exists(), source
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (\[.*\])", DOCKERFILE, re.M).group(1))
    command = json.loads(re.search(r"^CMD (\[.*\])", DOCKERFILE, re.M).group(1))
    assert entrypoint == ["yilian"] and set(_options(command)) <= set(re.findall(r"--[a-z-]+", yilian_help(command[0])))
    assert re.search(r"EXPOSE 8600 9600", DOCKERFILE)


def test_compose_services_use_existing_commands_paths_and_ports(tmp_path: Path):
    services = COMPOSE["services"]
    centers = [name for name in services if name.startswith("center-")]
    assert centers == ["center-a", "center-b", "center-c", "center-d"]
    init = services["init"]["command"]
    assert set(_options(init)) <= set(re.findall(r"--[a-z-]+", yilian_help(init[0])))
    # run the init service's command outside Docker: it makes exactly what the services mount
    out = tmp_path / "consortium"
    args = [str(out) if a == "/consortium" else a for a in init]
    result = subprocess.run([sys.executable, "-m", "node.cli", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    host_ports = set()
    for name in centers:
        service = services[name]
        command = service["command"]
        assert set(_options(command)) <= set(re.findall(r"--[a-z-]+", yilian_help(command[0])))
        (volume,) = service["volumes"]
        source, target = volume.split(":")
        assert target == "/center" and source == f"./consortium/centers/{name}" and service["hostname"] == name
        config = json.loads((out / "centers" / name / "node.json").read_text())
        assert config["api"] == {"host": "0.0.0.0", "port": 8600} and config["p2p"]["port"] == 9600
        assert all(peer["address"] == f"/dns4/{peer['name']}/tcp/9600" for peer in config["p2p"]["peers"])
        (mapping,) = service["ports"]
        host, container = mapping.split(":")
        assert container == "8600" and host not in host_ports
        host_ports.add(host)


def test_the_image_command_runs_outside_docker_and_passes_the_healthcheck(tmp_path: Path):
    api, p2p = free_port(), free_port()
    out = tmp_path / "c"
    subprocess.run([sys.executable, "-m", "node.cli", "init", "--centers", "1", "--out", str(out), "--by-name", "--api-port", str(api),
                    "--p2p-port", str(p2p)], check=True, capture_output=True)
    command = json.loads(re.search(r"^CMD (\[.*\])", DOCKERFILE, re.M).group(1))
    home = out / "centers" / "center-a"
    process = subprocess.Popen([sys.executable, "-m", "node.cli", *[str(home) if a == "/center" else a for a in command]],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    health = re.search(r'HEALTHCHECK[^\n]*\\\n\s*CMD (\[.*\])', DOCKERFILE).group(1)
    check = [sys.executable if a == "python" else a.replace("8600", str(api)) for a in json.loads(health)]
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(check, capture_output=True).returncode != 0:
            assert process.poll() is None and time.monotonic() < deadline, process.stderr.read() if process.poll() is not None else "timeout"
            time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and all(json.loads(line)["level"] for line in lines), shlex.join(lines[:3])
