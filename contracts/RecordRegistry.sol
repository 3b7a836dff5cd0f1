// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {GmCrypto} from "./lib/GmCrypto.sol";
import {IMembers} from "./lib/Registries.sol";

/// @title RecordRegistry: commitments to enterprise records under the unified data standard.
/// @notice Deployed at genesis at 0x0000000000000000000000000000000000001001. Raw records never come here:
/// a record is anchored as SM3(salt || canonical bytes), computed by its custodian. Each record names its
/// owner (the enterprise for its private data, the producing center otherwise) and its custodian center.
/// Only a center anchors; only the custodian updates (a new version linked to the previous one) or revokes.
/// Many records can be anchored at once as one Merkle root (RFC 6962 tree over SM3, the same as the node's
/// block trees); anyone checks a record's inclusion with verifyInBatch.
contract RecordRegistry {
    struct Record {
        address owner;
        address custodian;
        bytes32 commitment; // of the current version
        bytes32 recordType; // keccak256 of the schema name, e.g. "credit"
        uint32 schemaVersion;
        uint32 version; // 1 for the first anchor
        bool revoked;
        uint64 updatedAt; // block number
    }

    struct Batch {
        address custodian;
        uint32 size;
        uint64 anchoredAt;
    }

    IMembers public immutable members;
    mapping(bytes32 => Record) private _records;
    mapping(bytes32 => mapping(uint32 => bytes32)) public commitmentAt; // record id => version => commitment
    mapping(bytes32 => Batch) public batches;

    event Anchored(bytes32 indexed recordId, bytes32 indexed recordType, address indexed owner, address custodian, bytes32 commitment, uint32 schemaVersion);
    event Updated(bytes32 indexed recordId, uint32 version, bytes32 commitment, bytes32 previousCommitment, uint32 schemaVersion);
    event Revoked(bytes32 indexed recordId, uint32 version);
    event BatchAnchored(bytes32 indexed root, address indexed custodian, uint32 size);
    event OpenedFromBatch(bytes32 indexed recordId, bytes32 indexed root, uint256 index);

    error NotCenter(address caller);
    error RecordExists(bytes32 recordId);
    error UnknownRecord(bytes32 recordId);
    error NotCustodian(address caller, address custodian);
    error RecordRevoked(bytes32 recordId);
    error BatchExists(bytes32 root);
    error EmptyCommitment();
    error InvalidOwner();
    error EmptyBatch();
    error UnknownBatch(bytes32 root);
    error NotInBatch(bytes32 root, bytes32 recordId);

    modifier onlyCenter() {
        if (!members.isCenter(msg.sender)) revert NotCenter(msg.sender);
        _;
    }

    constructor(address memberRegistry) {
        members = IMembers(memberRegistry);
    }

    function record(bytes32 recordId) external view returns (Record memory) {
        Record memory r = _records[recordId];
        if (r.version == 0) revert UnknownRecord(recordId);
        return r;
    }

    /// @notice Anchor version 1 of a record; the caller (a center) becomes its custodian.
    function anchor(bytes32 recordId, bytes32 recordType, address owner, bytes32 commitment, uint32 schemaVersion) external onlyCenter {
        _anchor(recordId, recordType, owner, commitment, schemaVersion);
    }

    function _anchor(bytes32 recordId, bytes32 recordType, address owner, bytes32 commitment, uint32 schemaVersion) private {
        if (_records[recordId].version != 0) revert RecordExists(recordId);
        if (owner == address(0)) revert InvalidOwner();
        if (commitment == bytes32(0)) revert EmptyCommitment();
        _records[recordId] = Record(owner, msg.sender, commitment, recordType, schemaVersion, 1, false, uint64(block.number));
        commitmentAt[recordId][1] = commitment;
        emit Anchored(recordId, recordType, owner, msg.sender, commitment, schemaVersion);
    }

    /// @notice A new version of a record, linked to the previous one (custodian only).
    function update(bytes32 recordId, bytes32 commitment, uint32 schemaVersion) external {
        Record storage r = _custodied(recordId);
        if (commitment == bytes32(0)) revert EmptyCommitment();
        bytes32 previous = r.commitment;
        r.version += 1;
        r.commitment = commitment;
        r.schemaVersion = schemaVersion;
        r.updatedAt = uint64(block.number);
        commitmentAt[recordId][r.version] = commitment;
        emit Updated(recordId, r.version, commitment, previous, schemaVersion);
    }

    function revoke(bytes32 recordId) external {
        Record storage r = _custodied(recordId);
        r.revoked = true;
        r.updatedAt = uint64(block.number);
        emit Revoked(recordId, r.version);
    }

    function _custodied(bytes32 recordId) private view returns (Record storage r) {
        r = _records[recordId];
        if (r.version == 0) revert UnknownRecord(recordId);
        if (r.custodian != msg.sender) revert NotCustodian(msg.sender, r.custodian);
        if (r.revoked) revert RecordRevoked(recordId);
    }

    /// @notice Anchor `size` record commitments at once as the root of their SM3 Merkle tree.
    function anchorBatch(bytes32 root, uint32 size) external onlyCenter {
        if (size == 0) revert EmptyBatch();
        if (batches[root].size != 0) revert BatchExists(root);
        batches[root] = Batch(msg.sender, size, uint64(block.number));
        emit BatchAnchored(root, msg.sender, size);
    }

    /// @notice Make one record of an anchored batch individually addressable — what grants, updates and
    /// revocation need — when it is first shared: the custodian shows its batch leaf
    /// `abi.encode(recordId, recordType, owner, commitment, schemaVersion)` and inclusion path. Bulk imports
    /// thus pay storage only for the records that are actually used.
    function anchorFromBatch(bytes32 root, uint256 index, bytes32[] calldata path, bytes32 recordId, bytes32 recordType, address owner,
                             bytes32 commitment, uint32 schemaVersion) external onlyCenter {
        Batch memory b = batches[root];
        if (b.size == 0) revert UnknownBatch(root);
        if (b.custodian != msg.sender) revert NotCustodian(msg.sender, b.custodian);
        if (!_inBatch(root, abi.encode(recordId, recordType, owner, commitment, schemaVersion), index, path)) revert NotInBatch(root, recordId);
        _anchor(recordId, recordType, owner, commitment, schemaVersion);
        emit OpenedFromBatch(recordId, root, index);
    }

    /// @notice Whether `leaf` is entry `index` of the anchored batch `root` (RFC 6962 path, leaf upwards).
    function verifyInBatch(bytes32 root, bytes calldata leaf, uint256 index, bytes32[] calldata path) external view returns (bool) {
        return _inBatch(root, leaf, index, path);
    }

    function _inBatch(bytes32 root, bytes memory leaf, uint256 index, bytes32[] calldata path) private view returns (bool) {
        uint256 width = batches[root].size;
        if (width == 0 || index >= width) return false;
        bytes32 node = GmCrypto.sm3(abi.encodePacked(bytes1(0x00), leaf));
        uint256 used = 0;
        while (width > 1) {
            if (index % 2 == 1) {
                if (used == path.length) return false;
                node = GmCrypto.sm3(abi.encodePacked(bytes1(0x01), path[used++], node));
            } else if (index + 1 < width) {
                if (used == path.length) return false;
                node = GmCrypto.sm3(abi.encodePacked(bytes1(0x01), node, path[used++]));
            }
            index /= 2;
            width = (width + 1) / 2;
        }
        return used == path.length && node == root;
    }
}
