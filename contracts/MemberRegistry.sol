// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {GmCrypto} from "./lib/GmCrypto.sol";

/// @title MemberRegistry: consortium members, account admission and +2/3 governance.
/// @notice Deployed at genesis at 0x0000000000000000000000000000000000001000 (see genesis.json "contracts").
/// Members are organisations acting through an admin account. Trading centers are the validators
/// and custodians; they admit the enterprise accounts they have identified (admission is what lets
/// an account transact) and vote on proposals. A proposal passes when more than 2/3 of the active
/// centers vote for it; validator changes take effect at the height the proposal states (or the next
/// block when the deciding vote comes later). The node reads the ordered list `validatorUpdates`
/// straight from storage and derives the validator set of every height from genesis and that list.
contract MemberRegistry {
    enum Role { None, Center, FinancialInstitution, CertificateAuthority, Auditor }

    enum Action { AddCenter, RemoveCenter, AddInstitution, RemoveInstitution, AddCA, RemoveCA, AddAuditor, RemoveAuditor, Blacklist, Unblacklist }

    struct Member {
        Role role;
        bool active;
        string name;
        address validator; // centers only: the validator (consensus) address
    }

    /// One change of the validator set; the key is the 65-byte public key 0x04‖X‖Y split in two words.
    struct ValidatorUpdate {
        bytes32 keyX;
        bytes32 keyY;
        uint64 effectiveHeight;
        bool added;
    }

    struct Proposal {
        Action action;
        address subject;
        string name;
        bytes validatorKey; // AddCenter: the new validator's 65-byte public key
        uint64 effectiveHeight;
        uint64 deadline; // last block at which votes count
        uint32 votes;
        bool executed;
        address proposer;
    }

    mapping(address => Member) public members;
    address[] private _centers;
    mapping(address => address) public admittedBy; // account => center that admitted it
    mapping(address => bool) public blacklisted;
    Proposal[] private _proposals;
    mapping(uint256 => mapping(address => bool)) public voted;
    ValidatorUpdate[] public validatorUpdates; // read by the node from storage (slot 6), append-only
    mapping(address => bytes) public validatorKey; // validator address => its public key
    mapping(address => string) public peerIdOf; // center admin => its node's libp2p peer ID (centers added after genesis)
    bool public immutable sm3Addresses; // the chain's address rule: last 20 bytes of SM3(X‖Y), else keccak256

    uint64 public constant VOTING_PERIOD = 100_000; // blocks

    event MemberAdded(address indexed admin, Role role, string name, address validator);
    event MemberRemoved(address indexed admin, Role role);
    event AccountAdmitted(address indexed account, address indexed center);
    event AccountRemoved(address indexed account, address indexed center);
    event Proposed(uint256 indexed id, Action action, address indexed subject, address indexed proposer, uint64 effectiveHeight);
    event Voted(uint256 indexed id, address indexed center, uint32 votes, uint32 needed);
    event Executed(uint256 indexed id, Action action, address indexed subject);
    event ValidatorChange(address indexed validator, bool added, uint64 effectiveHeight, uint256 index);
    event BlacklistChanged(address indexed enterprise, bool blacklisted);
    event PeerIdSet(address indexed center, string peerId);

    error NotCenter(address caller);
    error NotAdmittingCenter(address caller, address account);
    error AlreadyAdmitted(address account, address center);
    error NotAdmitted(address account);
    error AlreadyMember(address subject);
    error NotMember(address subject, Role expected);
    error UnknownProposal(uint256 id);
    error AlreadyVoted(uint256 id, address center);
    error ProposalClosed(uint256 id);
    error EffectiveHeightPassed(uint64 effectiveHeight, uint256 currentBlock);
    error LastCenter();
    error InvalidSubject();
    error InvalidValidatorKey();
    error ValidatorInUse(address validator);
    error InvalidPeerId();

    modifier onlyCenter() {
        if (!isCenter(msg.sender)) revert NotCenter(msg.sender);
        _;
    }

    /// @param admins the founding centers' admin accounts; @param names their names;
    /// @param validatorKeys their validators' 65-byte public keys (the genesis validator set);
    /// @param sm3Addresses_ true on a national-crypto (gm) chain: addresses are SM3-derived.
    constructor(address[] memory admins, string[] memory names, bytes[] memory validatorKeys, bool sm3Addresses_) {
        require(admins.length > 0 && admins.length == names.length && admins.length == validatorKeys.length, "MemberRegistry: bad founding members");
        sm3Addresses = sm3Addresses_;
        for (uint256 i = 0; i < admins.length; i++) {
            address validator = _validatorAddress(validatorKeys[i]);
            validatorKey[validator] = validatorKeys[i];
            _addMember(admins[i], Role.Center, names[i], validator);
        }
    }

    /// @return the address of a 65-byte public key 0x04‖X‖Y under this chain's address rule.
    function _validatorAddress(bytes memory key) internal view returns (address) {
        if (key.length != 65 || key[0] != 0x04) revert InvalidValidatorKey();
        bytes memory xy = new bytes(64);
        for (uint256 i = 0; i < 64; i++) xy[i] = key[i + 1];
        return address(uint160(uint256(sm3Addresses ? GmCrypto.sm3(xy) : keccak256(xy))));
    }

    function validatorUpdateCount() external view returns (uint256) {
        return validatorUpdates.length;
    }

    // -- reads ------------------------------------------------------------------------------

    function isCenter(address account) public view returns (bool) {
        Member storage m = members[account];
        return m.active && m.role == Role.Center;
    }

    function hasRole(address account, Role role) public view returns (bool) {
        Member storage m = members[account];
        return m.active && m.role == role;
    }

    /// @return whether `account` may send transactions: an active member's admin or an admitted account.
    function isAdmitted(address account) external view returns (bool) {
        return members[account].active || admittedBy[account] != address(0);
    }

    /// @notice A center names the libp2p peer ID of its node, so that the other centers' nodes accept its
    /// connections (genesis centers are known from the genesis file; this is how a center added later joins).
    function setPeerId(string calldata peerId) external {
        if (!isCenter(msg.sender)) revert NotCenter(msg.sender);
        if (bytes(peerId).length < 40 || bytes(peerId).length > 80) revert InvalidPeerId();
        peerIdOf[msg.sender] = peerId;
        emit PeerIdSet(msg.sender, peerId);
    }

    function centers() external view returns (address[] memory) {
        return _centers;
    }

    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    function proposal(uint256 id) external view returns (Proposal memory) {
        if (id >= _proposals.length) revert UnknownProposal(id);
        return _proposals[id];
    }

    /// @return votes needed to pass: more than 2/3 of the active centers.
    function quorum() public view returns (uint32) {
        return uint32((_centers.length * 2) / 3 + 1);
    }

    // -- account admission (by the center that identified the enterprise) -------------------------

    function admit(address account) external onlyCenter {
        if (account == address(0)) revert InvalidSubject();
        address by = admittedBy[account];
        if (by != address(0)) revert AlreadyAdmitted(account, by);
        admittedBy[account] = msg.sender;
        emit AccountAdmitted(account, msg.sender);
    }

    function removeAccount(address account) external onlyCenter {
        address by = admittedBy[account];
        if (by == address(0)) revert NotAdmitted(account);
        if (by != msg.sender) revert NotAdmittingCenter(msg.sender, account);
        delete admittedBy[account];
        emit AccountRemoved(account, msg.sender);
    }

    // -- governance ---------------------------------------------------------------------------------

    /// @notice Propose a change; the proposer's vote counts at once.
    /// @param validatorKey_ AddCenter: the new center's validator public key (65 bytes), else empty.
    /// @param effectiveHeight for center changes, the block from which the validator set changes (else ignored);
    /// when the deciding vote comes later than the block before it, the change takes effect two blocks after the decision.
    function propose(Action action, address subject, string calldata name, bytes calldata validatorKey_, uint64 effectiveHeight)
        external
        onlyCenter
        returns (uint256 id)
    {
        if (subject == address(0)) revert InvalidSubject();
        _checkProposable(action, subject);
        if (action == Action.AddCenter) {
            address validator = _validatorAddress(validatorKey_);
            if (validatorKey[validator].length != 0) revert ValidatorInUse(validator);
        }
        if ((action == Action.AddCenter || action == Action.RemoveCenter) && effectiveHeight <= block.number) {
            revert EffectiveHeightPassed(effectiveHeight, block.number);
        }
        id = _proposals.length;
        _proposals.push(Proposal(action, subject, name, validatorKey_, effectiveHeight, uint64(block.number) + VOTING_PERIOD, 0, false, msg.sender));
        emit Proposed(id, action, subject, msg.sender, effectiveHeight);
        _vote(id);
    }

    function vote(uint256 id) external onlyCenter {
        if (id >= _proposals.length) revert UnknownProposal(id);
        _vote(id);
    }

    function _vote(uint256 id) private {
        Proposal storage p = _proposals[id];
        if (p.executed || block.number > p.deadline) revert ProposalClosed(id);
        if (voted[id][msg.sender]) revert AlreadyVoted(id, msg.sender);
        voted[id][msg.sender] = true;
        p.votes += 1;
        uint32 needed = quorum();
        emit Voted(id, msg.sender, p.votes, needed);
        if (p.votes >= needed) {
            p.executed = true;
            _execute(p);
            emit Executed(id, p.action, p.subject);
        }
    }

    function _checkProposable(Action action, address subject) private view {
        Member storage m = members[subject];
        if (action == Action.AddCenter || action == Action.AddInstitution || action == Action.AddCA || action == Action.AddAuditor) {
            if (m.active) revert AlreadyMember(subject);
        } else if (action == Action.RemoveCenter) {
            if (!hasRole(subject, Role.Center)) revert NotMember(subject, Role.Center);
            if (_centers.length == 1) revert LastCenter();
        } else if (action == Action.RemoveInstitution) {
            if (!hasRole(subject, Role.FinancialInstitution)) revert NotMember(subject, Role.FinancialInstitution);
        } else if (action == Action.RemoveCA) {
            if (!hasRole(subject, Role.CertificateAuthority)) revert NotMember(subject, Role.CertificateAuthority);
        } else if (action == Action.RemoveAuditor) {
            if (!hasRole(subject, Role.Auditor)) revert NotMember(subject, Role.Auditor);
        }
    }

    function _execute(Proposal storage p) private {
        Action a = p.action;
        if (a == Action.AddCenter) {
            address validator = _validatorAddress(p.validatorKey);
            if (validatorKey[validator].length != 0) revert ValidatorInUse(validator);
            validatorKey[validator] = p.validatorKey;
            _addMember(p.subject, Role.Center, p.name, validator);
            _scheduleValidator(validator, true, p.effectiveHeight);
        } else if (a == Action.RemoveCenter) {
            address validator = members[p.subject].validator;
            _removeMember(p.subject);
            _scheduleValidator(validator, false, p.effectiveHeight);
        } else if (a == Action.AddInstitution) {
            _addMember(p.subject, Role.FinancialInstitution, p.name, address(0));
        } else if (a == Action.AddCA) {
            _addMember(p.subject, Role.CertificateAuthority, p.name, address(0));
        } else if (a == Action.AddAuditor) {
            _addMember(p.subject, Role.Auditor, p.name, address(0));
        } else if (a == Action.RemoveInstitution || a == Action.RemoveCA || a == Action.RemoveAuditor) {
            _removeMember(p.subject);
        } else if (a == Action.Blacklist) {
            blacklisted[p.subject] = true;
            emit BlacklistChanged(p.subject, true);
        } else if (a == Action.Unblacklist) {
            blacklisted[p.subject] = false;
            emit BlacklistChanged(p.subject, false);
        }
    }

    function _scheduleValidator(address validator, bool added, uint64 effectiveHeight) private {
        uint64 next = uint64(block.number) + 2; // the set of height h+1 is known when h is decided, before h commits
        uint64 effective = effectiveHeight > next ? effectiveHeight : next;
        bytes memory key = validatorKey[validator];
        bytes32 x;
        bytes32 y;
        assembly {
            x := mload(add(key, 33))
            y := mload(add(key, 65))
        }
        validatorUpdates.push(ValidatorUpdate(x, y, effective, added));
        emit ValidatorChange(validator, added, effective, validatorUpdates.length - 1);
    }

    function _addMember(address admin, Role role, string memory name, address validator) private {
        if (admin == address(0)) revert InvalidSubject();
        if (members[admin].active) revert AlreadyMember(admin);
        members[admin] = Member(role, true, name, validator);
        if (role == Role.Center) _centers.push(admin);
        emit MemberAdded(admin, role, name, validator);
    }

    function _removeMember(address admin) private {
        Role role = members[admin].role;
        members[admin].active = false;
        if (role == Role.Center) {
            for (uint256 i = 0; i < _centers.length; i++) {
                if (_centers[i] == admin) {
                    _centers[i] = _centers[_centers.length - 1];
                    _centers.pop();
                    break;
                }
            }
        }
        emit MemberRemoved(admin, role);
    }
}
