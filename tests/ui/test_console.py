"""The web console end to end in headless Chromium (Debian's package) against a real node with live data.

Screenshots of every page are written to test-artifacts/console/ (kept by CI as artifacts).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from chain_sdk import Client, DataService, Enterprise, FinancialInstitution, TradingCenter, Wallet, gm
from chainutil import start_localnet

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
USCC = "91350100M000100Y43"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    node = start_localnet(tmp_path_factory.mktemp("console"))
    home = Path(node.description["nodes"][0]["home"])
    center = TradingCenter(Client(node.url), Wallet.load(home / "keys/admin.json", (home / "secrets/password").read_bytes().strip()))
    enterprise = Enterprise(Client(node.url), Wallet.generate())
    bank = FinancialInstitution(Client(node.url), Wallet.generate())
    center.admit(enterprise.address)
    center.propose("AddInstitution", bank.address, "Bank K")
    data = DataService.for_home(node.url, home)
    credit = {"record_type": "credit", "schema_version": 1, "uscc": USCC, "rating": "AA", "rated_by": "Center A", "rated_on": "2026-06-30",
              "blacklisted": False}
    credit_id = bytes.fromhex(data.ingest("credit", f"credit/{USCC}", enterprise.address, credit)["record_id"][2:])
    request = bank.authorization_request(name="Bank K", purpose="credit review", record_types=["credit"])
    grant_id = bank.relay(enterprise.approve(enterprise.scan(request.to_uri())))
    shared = bank.read_record(credit_id, grant_id)
    project = {"record_type": "project", "schema_version": 1, "uscc": "12350100MB0000000X", "project_id": "FJ-2026-0001", "name": "学校改扩建工程",
               "tenderer": "某区教育局", "category": "construction", "budget": "30000000", "bid_deadline": "2026-12-20T09:30:00+08:00"}
    project_id = bytes.fromhex(data.ingest("project", "project/P", center.address, project)["record_id"][2:])
    bank.set_credit_line(enterprise.address, 1_000_000)
    application = enterprise.apply_guarantee(project_id, beneficiary=center.address, amount=300_000, institution=bank.address)
    number = bank.issue(application)
    shown = bank.authorization_request(name="Bank K", purpose="credit review for bid guarantees", record_types=["credit"])
    yield {"url": node.url, "center": center, "credit_id": credit_id, "shared": shared, "number": number, "qr": shown.to_uri()}
    node.stop()


@pytest.fixture(scope="module")
def page():
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        yield browser.new_page(viewport={"width": 1280, "height": 900})
        browser.close()


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_dashboard_shows_live_data_in_both_languages(world, page):
    page.goto(world["url"] + "/ui?lang=en")
    first = int(page.inner_text("#height"))
    assert page.inner_text("#peers") == "0" and "Validators" in page.content()
    shot(page, "dashboard-en")
    world["center"].admit(Wallet.generate().address)  # a new block while we look
    page.goto(world["url"] + "/ui?lang=zh")
    assert int(page.inner_text("#height")) > first  # the chain moved on: live data
    assert "区块高度" in page.content() and "验证节点" in page.content()
    shot(page, "dashboard-zh")
    page.click("#lang")
    assert "Height" in page.content()


def test_blocks_and_transactions(world, page):
    page.goto(world["url"] + "/ui/blocks")
    shot(page, "blocks")
    page.click("table a >> nth=0")
    assert re.search(r"Block \d+", page.content())
    page.goto(world["url"] + f"/ui/guarantees?number=0x{world['number'].hex()}")
    page.click("table a.mono >> nth=0")  # the issuing transaction
    assert "Guarantee.GuaranteeIssued" in page.content() and "success" in page.content()
    shot(page, "transaction")


def test_record_provenance_and_the_verify_button(world, page):
    shared = world["shared"]
    page.goto(world["url"] + f"/ui/records/0x{world['credit_id'].hex()}?lang=en")
    content = page.content()
    assert "Anchored" in content and "AccessLogged" in content and shared.record["uscc"] not in content  # never the data itself
    page.click("#verify")
    page.wait_for_function("document.getElementById('result').textContent.length > 2")
    assert page.inner_text("#result").startswith("✔") and "commit certificate" in page.inner_text("#result")
    page.fill("#record", json.dumps(shared.record))
    page.fill("#salt", "0x" + shared.salt.hex())
    page.click("#verify")
    page.wait_for_function("document.getElementById('result').textContent.includes('SM3') || document.getElementById('result').textContent.includes('NOT')")
    assert page.inner_text("#result").startswith("✔") and "exactly what was anchored" in page.inner_text("#result")
    shot(page, "record-verified")
    page.fill("#record", json.dumps({**shared.record, "rating": "AAA"}))
    page.click("#verify")
    page.wait_for_function("document.getElementById('result').textContent.includes('NOT')")
    assert page.inner_text("#result").startswith("✘") and "do NOT match" in page.inner_text("#result")
    shot(page, "record-tampered")


def test_guarantee_lookup_qr_page_and_members(world, page):
    page.goto(world["url"] + "/ui/guarantees?lang=en")
    page.fill("#number", "0x" + world["number"].hex())
    page.click("button")
    assert "valid" in page.inner_text("#verdict") and "not valid" not in page.inner_text("#verdict") and "300,000" in page.content()
    shot(page, "guarantee-valid")
    page.goto(world["url"] + f"/ui/guarantees?number=0x{gm.sm3(b'forged').hex()}&lang=en")
    assert "not valid" in page.inner_text("#verdict")
    shot(page, "guarantee-forged")
    page.goto(world["url"] + "/ui/qr?lang=en&request=" + world["qr"])
    assert page.locator("#qrcode svg").count() == 1 and "Bank K" in page.content() and "credit" in page.content()
    shot(page, "authorization-qr")
    page.goto(world["url"] + "/ui/qr?lang=en&request=" + world["qr"][:-8] + "AAAAAAAA")
    assert page.locator("#refused").count() == 1
    page.goto(world["url"] + "/ui/members?lang=en")
    assert "Bank K" in page.content() and "financial institution" in page.content() and "AddInstitution" in page.content()
    shot(page, "members")
