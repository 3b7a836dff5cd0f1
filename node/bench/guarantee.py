"""YiLianBao path on a 4-center localnet: an enterprise applies (through center A's node), the bank's automatic rule
issues (through D's node), and center C verifies — seconds from the application to "valid" at C, p50/p99. The
baseline is one transaction through the SDK on the same localnet, sent and waited for (center A admitting an
account), p50: the path holds two transactions in sequence (the application, the issuance) and the rule's poll,
so about 2× that is its floor. (Blocks come when there is work, so the block interval is no longer a baseline.)"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def run(quick: bool, progress: Callable[[str], None]) -> dict:
    from chain_sdk import Client, DataService, Enterprise, FinancialInstitution, Wallet
    from node.demo_story import Story

    samples = 5 if quick else 30
    with tempfile.TemporaryDirectory(prefix="yilian-bench-") as scratch:
        story = Story(Path(scratch))
        try:
            progress("starting a 4-center localnet")
            story.start()
            story.governance()
            a, b, c = (story.s["center"][x] for x in "ABC")
            enterprise = Enterprise(Client(story.s["urls"][0]), Wallet.generate())
            a.admit(enterprise.address)
            bank = FinancialInstitution(Client(story.s["urls"][3]), story.s["bank_wallet"])
            data = DataService.for_home(story.s["urls"][1], story.s["homes"][1])
            progress(f"center B anchors {samples} projects")
            projects = []
            for i in range(samples):
                record = {"record_type": "project", "schema_version": 1, "uscc": "12350100MB0000000X", "project_id": f"BENCH-{i}",
                          "name": f"project {i}", "tenderer": "bench", "category": "construction", "budget": "1000000",
                          "bid_deadline": "2026-12-20T09:30:00+08:00"}
                projects.append(bytes.fromhex(data.ingest("project", f"project/bench/{i}", b.address, record)["record_id"][2:]))
            single = []
            for _ in range(samples):
                started = time.monotonic()
                a.admit(Wallet.generate().address)
                single.append(time.monotonic() - started)
            progress(f"one transaction, sent and waited for: p50 {statistics.median(single):.2f} s")
            bank.set_credit_line(enterprise.address, 10_000_000)
            rule = bank.auto_issue(lambda application: True, poll_s=0.05)
            latencies = []
            for i, project in enumerate(projects):
                started = time.monotonic()
                application = enterprise.apply_guarantee(project, beneficiary=b.address, amount=100_000, institution=bank.address)
                number = rule.wait_for(application, timeout=60)
                while not c.verify_guarantee(number).valid:
                    time.sleep(0.02)
                latencies.append(time.monotonic() - started)
                progress(f"guarantee {i + 1}/{samples}: {latencies[-1]:.2f} s")
            rule.stop()
        finally:
            story.stop()
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    return {"samples": samples, "apply_to_verified_s_p50": round(p50, 2), "apply_to_verified_s_p99": round(ordered[int(0.99 * (len(ordered) - 1))], 2),
            "one_transaction_s_p50": round(statistics.median(single), 3),
            "ratio_p50_vs_one_transaction": round(p50 / statistics.median(single), 2),
            "target_s_p50": 2.0}
