"""MemberRegistry on our own executor: admission, governance by +2/3 of centers, every refusal's custom error."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from harness import Harness
from node.crypto import get_suite

ADD_CENTER, REMOVE_CENTER, ADD_INSTITUTION, BLACKLIST = 0, 1, 2, 8


@pytest.fixture
def h(tmp_path: Path):
    harness = Harness(tmp_path)
    yield harness
    harness.chain.close()


def test_genesis_members_are_the_four_centers(h: Harness) -> None:
    (centers,) = h.call("centers", types=["address[]"])
    assert sorted(bytes.fromhex(c[2:]) for c in centers) == sorted(a.address for a in h.admins)
    assert h.call("quorum", types=["uint32"]) == (3,)
    assert h.call("isAdmitted", to_checksum_address(h.admins[0].address), types=["bool"]) == (True,)
    assert h.call("isAdmitted", to_checksum_address(h.outsider.address), types=["bool"]) == (False,)


def test_admission_by_the_identifying_center_only(h: Harness) -> None:
    enterprise = to_checksum_address(h.outsider.address)
    receipt = h.send(h.admins[0], "admit", enterprise)
    assert receipt.status == 1 and h.events(receipt, "AccountAdmitted")[0].center.lower() == "0x" + h.admins[0].address.hex()
    assert h.call("isAdmitted", enterprise, types=["bool"]) == (True,)
    assert h.refused(h.admins[1], "admit", enterprise) == "AlreadyAdmitted"
    assert h.refused(h.admins[1], "removeAccount", enterprise) == "NotAdmittingCenter"
    assert h.send(h.outsider, "centers").status == 1  # admitted on chain: the node lets it transact
    assert h.send(h.admins[0], "removeAccount", enterprise).status == 1
    assert h.refused(h.admins[0], "removeAccount", enterprise) == "NotAdmitted"
    from node.mempool import TxRejected

    with pytest.raises(TxRejected, match="not an admitted account"):  # removed: refused before any block
        h.send(h.outsider, "centers")


def test_only_centers_act_and_institutions_join_by_vote(h: Harness) -> None:
    enterprise = h.outsider
    assert h.send(h.admins[0], "admit", to_checksum_address(enterprise.address)).status == 1
    # an admitted enterprise may transact, but not act as a center
    assert h.refused(enterprise, "admit", to_checksum_address(get_suite("gm").generate_key().address)) == "NotCenter"
    assert h.refused(enterprise, "vote", 0) == "NotCenter"
    bank = to_checksum_address(get_suite("gm").generate_key().address)
    assert h.send(h.admins[0], "propose", ADD_INSTITUTION, bank, "Bank of Fujian", to_checksum_address(bytes(20)), 0).status == 1
    assert h.send(h.admins[1], "vote", 0).status == 1
    assert h.call("hasRole", bank, 2, types=["bool"]) == (False,)
    assert h.send(h.admins[2], "vote", 0).status == 1
    assert h.call("hasRole", bank, 2, types=["bool"]) == (True,)
    assert h.refused(h.admins[0], "propose", ADD_INSTITUTION, bank, "again", to_checksum_address(bytes(20)), 0) == "AlreadyMember"


def test_governance_needs_more_than_two_thirds_and_sets_the_validator_change_height(h: Harness) -> None:
    newcomer, validator = get_suite("gm").generate_key(), get_suite("gm").generate_key()
    height = h.chain.height + 50
    receipt = h.send(h.admins[0], "propose", ADD_CENTER, to_checksum_address(newcomer.address), "Center E", to_checksum_address(validator.address), height)
    assert receipt.status == 1 and h.events(receipt, "Voted")[0].votes == 1
    assert h.refused(h.admins[0], "vote", 0) == "AlreadyVoted"
    assert h.send(h.admins[1], "vote", 0).status == 1
    assert h.call("isCenter", to_checksum_address(newcomer.address), types=["bool"]) == (False,)  # 2 of 4 is not enough
    receipt = h.send(h.admins[2], "vote", 0)
    (change,) = h.events(receipt, "ValidatorChange")
    assert change.validator.lower() == "0x" + validator.address.hex() and change.added and change.effectiveHeight == height
    assert h.call("isCenter", to_checksum_address(newcomer.address), types=["bool"]) == (True,)
    assert h.call("quorum", types=["uint32"]) == (4,)  # five centers now: more than 2/3 is 4
    assert h.refused(h.admins[3], "vote", 0) == "ProposalClosed"
    assert h.refused(h.admins[0], "vote", 7) == "UnknownProposal"
    assert h.refused(h.admins[0], "propose", REMOVE_CENTER, to_checksum_address(validator.address), "", to_checksum_address(bytes(20)), height) == "NotMember"
    assert h.refused(h.admins[0], "propose", ADD_CENTER, to_checksum_address(get_suite("gm").generate_key().address), "late",
                     to_checksum_address(bytes(20)), 1) == "EffectiveHeightPassed"


def test_blacklist_by_vote(h: Harness) -> None:
    enterprise = to_checksum_address(h.outsider.address)
    assert h.send(h.admins[0], "propose", BLACKLIST, enterprise, "", to_checksum_address(bytes(20)), 0).status == 1
    assert h.send(h.admins[1], "vote", 0).status == 1
    receipt = h.send(h.admins[3], "vote", 0)
    assert h.events(receipt, "BlacklistChanged")[0].blacklisted is True
    assert h.call("blacklisted", enterprise, types=["bool"]) == (True,)
