// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title The views of MemberRegistry (0x…1000) and RecordRegistry (0x…1001) the other system contracts use.
interface IMembers {
    function isCenter(address account) external view returns (bool);
    /// @param role MemberRegistry.Role: 1 Center, 2 FinancialInstitution, 3 CertificateAuthority, 4 Auditor.
    function hasRole(address account, uint8 role) external view returns (bool);
    function blacklisted(address account) external view returns (bool);
}

interface IRecords {
    struct Record {
        address owner;
        address custodian;
        bytes32 commitment;
        bytes32 recordType;
        uint32 schemaVersion;
        uint32 version;
        bool revoked;
        uint64 updatedAt;
    }

    function record(bytes32 recordId) external view returns (Record memory);
}
