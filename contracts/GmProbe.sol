// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {GmCrypto} from "./lib/GmCrypto.sol";

/// @title GmProbe: the national-crypto precompiles exposed for tests and tools.
contract GmProbe {
    bytes32 public lastMessageHash;

    event Verified(address indexed caller, bytes32 indexed messageHash, bool valid);

    function sm3(bytes calldata data) external view returns (bytes32) {
        return GmCrypto.sm3(data);
    }

    function sm2Verify(bytes calldata publicKey, bytes calldata message, bytes calldata signature) external view returns (bool) {
        return GmCrypto.sm2Verify(publicKey, message, signature);
    }

    /// @notice Verify, remember the SM3 hash of the message, and log the outcome.
    function checkAndRecord(bytes calldata publicKey, bytes calldata message, bytes calldata signature) external returns (bool valid) {
        valid = GmCrypto.sm2Verify(publicKey, message, signature);
        bytes32 messageHash = GmCrypto.sm3(message);
        lastMessageHash = messageHash;
        emit Verified(msg.sender, messageHash, valid);
    }
}
