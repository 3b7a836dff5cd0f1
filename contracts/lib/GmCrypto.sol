// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title GmCrypto: SM3 and SM2 (GB/T 32905, GB/T 32918) through YiLian Chain's precompiles.
/// @notice The node implements the precompiles (node/execution/precompiles.py):
///   0x…5001 SM3:        input = message,                 output = 32-byte digest.
///   0x…5002 SM2 verify: input = X‖Y (64) ‖ r‖s (64) ‖ message, output = word 1 (valid) or 0.
/// SM2 signatures are over SM3(Z ‖ message) with the default user ID 1234567812345678.
library GmCrypto {
    address internal constant SM3 = address(0x5001);
    address internal constant SM2_VERIFY = address(0x5002);

    /// @return digest the SM3 hash of `data`.
    function sm3(bytes memory data) internal view returns (bytes32 digest) {
        (bool ok, bytes memory out) = SM3.staticcall(data);
        require(ok && out.length == 32, "GmCrypto: SM3 precompile unavailable");
        digest = abi.decode(out, (bytes32));
    }

    /// @param publicKey the signer's SM2 public key as X‖Y (64 bytes, no 0x04 prefix).
    /// @param message the signed message (not its hash).
    /// @param signature r‖s (64 bytes).
    /// @return valid whether `signature` is the key's SM2 signature of `message`.
    function sm2Verify(bytes memory publicKey, bytes memory message, bytes memory signature) internal view returns (bool valid) {
        require(publicKey.length == 64, "GmCrypto: public key must be 64 bytes (X||Y)");
        require(signature.length == 64, "GmCrypto: signature must be 64 bytes (r||s)");
        (bool ok, bytes memory out) = SM2_VERIFY.staticcall(abi.encodePacked(publicKey, signature, message));
        require(ok && out.length == 32, "GmCrypto: SM2 precompile unavailable");
        valid = abi.decode(out, (uint256)) == 1;
    }
}
