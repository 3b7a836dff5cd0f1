"""The README's SDK examples, run exactly as written (top to bottom) against a real `yilian localnet`."""

from __future__ import annotations

import re
from pathlib import Path

from chainutil import start_localnet

README = Path(__file__).resolve().parents[2] / "README.md"


def sdk_examples() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Using YiLian Chain from Python"):text.index("## Using the chain from web3.py")]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_has_an_example_per_role():
    joined = "\n".join(sdk_examples())
    for role in ("TradingCenter(", "Enterprise(", "FinancialInstitution(", "Auditor("):
        assert role in joined


def test_readme_sdk_examples_run(tmp_path, monkeypatch, capsys):
    node = start_localnet(tmp_path / "localnet")
    try:
        monkeypatch.chdir(tmp_path)
        namespace: dict = {}
        for number, block in enumerate(sdk_examples(), 1):
            code = compile(block.replace("http://127.0.0.1:8600", node.url), f"README.md python block {number}", "exec")
            exec(code, namespace)  # noqa: S102 - the README's own examples
    finally:
        node.stop()
    printed = capsys.readouterr().out
    assert "Bank K" in printed and "RecordRegistry.Anchored" in printed and "AccessLogged" in printed
    assert (tmp_path / "authorize.png").read_bytes().startswith(b"\x89PNG")
    assert oct((tmp_path / "enterprise-wallet.json").stat().st_mode & 0o777) == "0o600"
