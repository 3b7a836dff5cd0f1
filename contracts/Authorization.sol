// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {GmCrypto} from "./lib/GmCrypto.sol";
import {IMembers, IRecords} from "./lib/Registries.sol";

/// @title Authorization: a data owner's grants of use, and the custodians' access log.
/// @notice Deployed at genesis at 0x0000000000000000000000000000000000001002. The owner of records (see
/// RecordRegistry) grants a grantee the use of some record ids, or of all its records of some types, for a
/// purpose, within a validity window, for a bounded number of uses. The owner sends the grant itself, or
/// signs it with SM2 (the QR flow: the enterprise's wallet signs) and anyone relays it: the signature is
/// checked on chain by the SM2 precompile and the grant's nonce can be used once. Custodians record every
/// access they serve (`logAccess`), which consumes a use.
contract Authorization {
    struct Terms {
        address owner;
        address grantee;
        bytes32[] recordIds;
        bytes32[] recordTypes;
        string purpose;
        uint64 notBefore; // unix seconds (block timestamp)
        uint64 notAfter;
        uint32 maxUses; // 0 = unlimited
        uint64 nonce;
    }

    struct Grant {
        Terms terms;
        uint32 uses;
        bool revoked;
    }

    bytes32 public constant DOMAIN = keccak256("YILIAN/grant/v1");

    IMembers public immutable members;
    IRecords public immutable records;
    mapping(bytes32 => Grant) private _grants; // grant id = keccak256(owner, nonce)
    mapping(address => mapping(address => bytes32[])) private _byPair; // owner => grantee => grant ids

    event Granted(bytes32 indexed grantId, address indexed owner, address indexed grantee, bool relayed, uint64 notAfter, uint32 maxUses);
    event Revoked(bytes32 indexed grantId, address indexed owner);
    event AccessLogged(bytes32 indexed grantId, bytes32 indexed recordId, address indexed custodian, address grantee, uint32 uses);
    event AccessRefused(bytes32 indexed recordId, address indexed grantee, address indexed custodian, bytes32 grantId, string reason);

    error NotOwner(address caller, address owner);
    error NonceUsed(address owner, uint64 nonce);
    error InvalidWindow(uint64 notBefore, uint64 notAfter);
    error GrantExpired(bytes32 grantId, uint64 notAfter);
    error BadSignature();
    error KeyNotOwner(address owner, address keyAddress);
    error UnknownGrant(bytes32 grantId);
    error GrantRevoked(bytes32 grantId);
    error NotCustodian(address caller, address custodian);
    error NotAuthorized(bytes32 grantId, bytes32 recordId);
    error EmptyScope();

    constructor(address memberRegistry, address recordRegistry) {
        members = IMembers(memberRegistry);
        records = IRecords(recordRegistry);
    }

    function grantId(address owner, uint64 nonce) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, nonce));
    }

    /// @return the 32-byte message an owner signs with SM2 for a relayed grant.
    function grantDigest(Terms calldata t) public view returns (bytes32) {
        return keccak256(abi.encode(
            DOMAIN, block.chainid, address(this), t.owner, t.grantee, keccak256(abi.encodePacked(t.recordIds)),
            keccak256(abi.encodePacked(t.recordTypes)), keccak256(bytes(t.purpose)), t.notBefore, t.notAfter, t.maxUses, t.nonce
        ));
    }

    function grant(Terms calldata t) external returns (bytes32 id) {
        if (msg.sender != t.owner) revert NotOwner(msg.sender, t.owner);
        id = _store(t, false);
    }

    /// @notice Record a grant the owner signed (anyone may relay it).
    /// @param publicKey the owner's SM2 public key X‖Y; its address (last 20 bytes of SM3(X‖Y)) must be the owner.
    function grantRelayed(Terms calldata t, bytes calldata publicKey, bytes calldata signature) external returns (bytes32 id) {
        if (publicKey.length != 64) revert BadSignature();
        address keyAddress = address(uint160(uint256(GmCrypto.sm3(publicKey))));
        if (keyAddress != t.owner) revert KeyNotOwner(t.owner, keyAddress);
        if (!GmCrypto.sm2Verify(publicKey, abi.encodePacked(grantDigest(t)), signature)) revert BadSignature();
        id = _store(t, true);
    }

    function _store(Terms calldata t, bool relayed) private returns (bytes32 id) {
        if (t.recordIds.length == 0 && t.recordTypes.length == 0) revert EmptyScope();
        if (t.notAfter <= t.notBefore) revert InvalidWindow(t.notBefore, t.notAfter);
        if (t.notAfter <= block.timestamp) revert GrantExpired(grantId(t.owner, t.nonce), t.notAfter);
        id = grantId(t.owner, t.nonce);
        if (_grants[id].terms.owner != address(0)) revert NonceUsed(t.owner, t.nonce);
        Grant storage g = _grants[id];
        g.terms = t;
        _byPair[t.owner][t.grantee].push(id);
        emit Granted(id, t.owner, t.grantee, relayed, t.notAfter, t.maxUses);
    }

    function revoke(bytes32 id) external {
        Grant storage g = _grants[id];
        if (g.terms.owner == address(0)) revert UnknownGrant(id);
        if (g.terms.owner != msg.sender) revert NotOwner(msg.sender, g.terms.owner);
        if (g.revoked) revert GrantRevoked(id);
        g.revoked = true;
        emit Revoked(id, msg.sender);
    }

    function grantTerms(bytes32 id) external view returns (Terms memory terms, uint32 uses, bool revoked) {
        Grant storage g = _grants[id];
        if (g.terms.owner == address(0)) revert UnknownGrant(id);
        return (g.terms, g.uses, g.revoked);
    }

    /// @return whether grant `id` lets its grantee use `recordId` now.
    function covers(bytes32 id, bytes32 recordId) public view returns (bool) {
        Grant storage g = _grants[id];
        if (g.terms.owner == address(0) || g.revoked) return false;
        if (block.timestamp < g.terms.notBefore || block.timestamp > g.terms.notAfter) return false;
        if (g.terms.maxUses != 0 && g.uses >= g.terms.maxUses) return false;
        IRecords.Record memory r = records.record(recordId);
        if (r.owner != g.terms.owner || r.revoked) return false;
        for (uint256 i = 0; i < g.terms.recordIds.length; i++) {
            if (g.terms.recordIds[i] == recordId) return true;
        }
        for (uint256 i = 0; i < g.terms.recordTypes.length; i++) {
            if (g.terms.recordTypes[i] == r.recordType) return true;
        }
        return false;
    }

    /// @return whether any live grant of the record's owner lets `grantee` use `recordId`.
    function isAuthorized(address grantee, bytes32 recordId) external view returns (bool) {
        IRecords.Record memory r = records.record(recordId);
        bytes32[] storage ids = _byPair[r.owner][grantee];
        for (uint256 i = 0; i < ids.length; i++) {
            if (covers(ids[i], recordId)) return true;
        }
        return false;
    }

    /// @notice The record's custodian logs that it served `recordId` to the grantee under grant `id` (uses one use).
    function logAccess(bytes32 id, bytes32 recordId) external {
        IRecords.Record memory r = records.record(recordId);
        if (r.custodian != msg.sender) revert NotCustodian(msg.sender, r.custodian);
        Grant storage g = _grants[id];
        if (g.terms.owner == address(0)) revert UnknownGrant(id);
        if (g.revoked) revert GrantRevoked(id);
        if (block.timestamp > g.terms.notAfter) revert GrantExpired(id, g.terms.notAfter);
        if (!covers(id, recordId)) revert NotAuthorized(id, recordId);
        g.uses += 1;
        emit AccessLogged(id, recordId, msg.sender, g.terms.grantee, g.uses);
    }

    /// @notice The record's custodian logs that it refused to serve `recordId` to `grantee` (no live grant, …).
    /// @param id the grant the requester named, or zero.
    function logRefusal(bytes32 recordId, address grantee, bytes32 id, string calldata reason) external {
        IRecords.Record memory r = records.record(recordId);
        if (r.custodian != msg.sender) revert NotCustodian(msg.sender, r.custodian);
        emit AccessRefused(recordId, grantee, msg.sender, id, reason);
    }
}
