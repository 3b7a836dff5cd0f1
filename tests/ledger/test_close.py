"""Closing a ledger releases it: nothing of it is left for interpreter shutdown to trip over."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_a_process_that_opened_and_closed_a_chain_exits_with_a_clean_stderr(tmp_path: Path) -> None:
    # py-trie's class-wide node cache used to keep the closed LevelDB alive until shutdown, where plyvel's
    # destructor failed and Python printed a bare "Error in sys.excepthook" after every test run and node stop
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(TESTS)!r})
        from chainutil import make_consortium
        from node.chain import Chain
        consortium = make_consortium(Path({str(tmp_path)!r}))
        Chain(Path({str(tmp_path)!r}) / "ledger", consortium.genesis).close()  # genesis executed and written
        print("closed")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "closed"
    assert run.stderr == "", run.stderr
