"""MemberRegistry on our own executor: admission, governance by +2/3 of centers, every refusal's custom error."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_utils import to_checksum_address

from harness import Harness
from node.crypto import get_suite

ADD_CENTER, REMOVE_CENTER, ADD_INSTITUTION, REMOVE_INSTITUTION, ADD_CA, REMOVE_CA, ADD_AUDITOR, REMOVE_AUDITOR, BLACKLIST, UNBLACKLIST = range(10)


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
    assert h.send(h.admins[0], "propose", ADD_INSTITUTION, bank, "Bank of Fujian", b"", 0).status == 1
    assert h.send(h.admins[1], "vote", 0).status == 1
    assert h.call("hasRole", bank, 2, types=["bool"]) == (False,)
    assert h.send(h.admins[2], "vote", 0).status == 1
    assert h.call("hasRole", bank, 2, types=["bool"]) == (True,)
    assert h.refused(h.admins[0], "propose", ADD_INSTITUTION, bank, "again", b"", 0) == "AlreadyMember"


def test_governance_needs_more_than_two_thirds_and_sets_the_validator_change_height(h: Harness) -> None:
    newcomer, validator = get_suite("gm").generate_key(), get_suite("gm").generate_key()
    height = h.chain.height + 50
    receipt = h.send(h.admins[0], "propose", ADD_CENTER, to_checksum_address(newcomer.address), "Center E", validator.public_key, height)
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
    assert h.refused(h.admins[0], "propose", REMOVE_CENTER, to_checksum_address(validator.address), "", b"", height) == "NotMember"
    assert h.refused(h.admins[0], "propose", ADD_CENTER, to_checksum_address(get_suite("gm").generate_key().address), "late",
                     get_suite("gm").generate_key().public_key, 1) == "EffectiveHeightPassed"
    assert h.refused(h.admins[0], "propose", ADD_CENTER, to_checksum_address(get_suite("gm").generate_key().address), "same key",
                     validator.public_key, height + 10) == "ValidatorInUse"
    assert h.refused(h.admins[0], "propose", ADD_CENTER, to_checksum_address(get_suite("gm").generate_key().address), "no key",
                     b"", height + 10) == "InvalidValidatorKey"


def test_the_node_applies_a_validator_change_at_its_height(h: Harness) -> None:
    """Governance adds a validator from a stated height and later removes it; the node's set, the headers'
    validator hashes and the certificates it accepts follow, block by block."""
    from node.errors import ValidationError
    from node.execution.system import validator_updates

    solo = h.validator
    newcomer, validator = get_suite("gm").generate_key(), get_suite("gm").generate_key()
    effective = h.chain.height + 8
    h.send(h.admins[0], "propose", ADD_CENTER, to_checksum_address(newcomer.address), "Center E", validator.public_key, effective)
    h.send(h.admins[1], "vote", 0)
    h.send(h.admins[2], "vote", 0)  # decided at height effective - 5
    (update,) = validator_updates(h.chain.executor._head_view().get_storage)
    (entry,) = [h.call("validatorUpdates", 0, types=["bytes32", "bytes32", "uint64", "bool"])]
    assert update.public_key == b"\x04" + entry[0] + entry[1] and (update.effective_height, update.added) == (entry[2], entry[3])
    before, after = h.chain.validators_at(effective - 1), h.chain.validators_at(effective)
    assert [v.address for v in before.validators] == [solo.address]
    assert sorted(v.address for v in after.validators) == sorted([solo.address, validator.address])
    while h.chain.height < effective - 1:
        last = h.engine.produce()
    assert last.block.header.validators_hash == before.hash(h.chain.suite)
    assert last.block.header.next_validators_hash == after.hash(h.chain.suite)  # announced one block ahead
    # from `effective` on one validator is no longer a quorum: the solo engine's certificate is refused
    with pytest.raises(ValidationError, match="quorum of 2 of 2"):
        h.engine.produce()
    execution = h.produce_signed([solo, validator])
    assert execution.block.header.height == effective and execution.block.header.validators_hash == after.hash(h.chain.suite)
    # remove it again: five centers now, so four votes; the deciding vote comes after the stated height,
    # which moves the change to the next block
    remove_at = h.chain.height + 2
    proposal = h.send(h.admins[0], "propose", REMOVE_CENTER, to_checksum_address(newcomer.address), "", b"", remove_at, signers=[solo, validator])
    assert proposal.status == 1
    for admin in h.admins[1:3]:
        assert h.send(admin, "vote", 1, signers=[solo, validator]).status == 1
    receipt = h.send(h.admins[3], "vote", 1, signers=[solo, validator])
    (change,) = h.events(receipt, "ValidatorChange")
    decided_at = h.chain.height
    assert change.added is False and change.effectiveHeight == decided_at + 2 > remove_at
    assert len(h.chain.validators) == 2  # the next block is still signed by both: a change is decided two blocks ahead
    h.produce_signed([solo, validator])
    assert [v.address for v in h.chain.validators.validators] == [solo.address]
    assert h.engine.produce().block.header.validators_hash == before.hash(h.chain.suite)


def test_blacklist_by_vote(h: Harness) -> None:
    enterprise = to_checksum_address(h.outsider.address)
    assert h.send(h.admins[0], "propose", BLACKLIST, enterprise, "", b"", 0).status == 1
    assert h.send(h.admins[1], "vote", 0).status == 1
    receipt = h.send(h.admins[3], "vote", 0)
    assert h.events(receipt, "BlacklistChanged")[0].blacklisted is True
    assert h.call("blacklisted", enterprise, types=["bool"]) == (True,)
    h.govern(UNBLACKLIST, h.outsider.address)
    assert h.call("blacklisted", enterprise, types=["bool"]) == (False,)


def test_auditors_and_the_remaining_refusals(h: Harness) -> None:
    auditor = get_suite("gm").generate_key().address
    h.govern(ADD_AUDITOR, auditor, "Provincial audit office")
    assert h.call("hasRole", to_checksum_address(auditor), 4, types=["bool"]) == (True,)
    assert h.refused(h.admins[0], "propose", REMOVE_INSTITUTION, to_checksum_address(auditor), "", b"", 0) == "NotMember"
    assert h.refused(h.admins[0], "propose", REMOVE_CA, to_checksum_address(auditor), "", b"", 0) == "NotMember"
    h.govern(REMOVE_AUDITOR, auditor)
    assert h.call("hasRole", to_checksum_address(auditor), 4, types=["bool"]) == (False,)
    assert h.refused(h.admins[0], "propose", REMOVE_AUDITOR, to_checksum_address(auditor), "", b"", 0) == "NotMember"
    assert h.refused(h.admins[0], "propose", ADD_INSTITUTION, to_checksum_address(bytes(20)), "", b"", 0) == "InvalidSubject"
    assert h.refused(h.admins[0], "admit", to_checksum_address(bytes(20))) == "InvalidSubject"


def test_the_last_center_cannot_be_removed(tmp_path: Path) -> None:
    from harness import Harness as Fresh

    single = Fresh(tmp_path, centers=1)
    try:
        admin = single.admins[0]
        assert single.refused(admin, "propose", REMOVE_CENTER, to_checksum_address(admin.address), "", b"", single.chain.height + 5) == "LastCenter"
    finally:
        single.chain.close()


def test_a_center_names_its_peer_id(h: Harness) -> None:
    peer_id = "12D3KooWLa2GmwnaVPewoNK6SLhksRgeZ4KXseWj7zHPZQjHGqfA"
    receipt = h.send(h.admins[1], "setPeerId", peer_id)
    (event,) = h.events(receipt, "PeerIdSet")
    assert event.peerId == peer_id and h.view("peerIdOf", to_checksum_address(h.admins[1].address), contract="MemberRegistry") == peer_id
    h.send(h.admins[0], "admit", to_checksum_address(h.outsider.address))
    assert h.refused(h.outsider, "setPeerId", peer_id) == "NotCenter"
    assert h.refused(h.admins[1], "setPeerId", "short") == "InvalidPeerId"
