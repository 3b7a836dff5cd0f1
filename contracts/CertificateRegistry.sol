// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {GmCrypto} from "./lib/GmCrypto.sol";
import {IMembers} from "./lib/Registries.sol";

/// @title CertificateRegistry (YiLianQian): one CA certificate, recognised by every center.
/// @notice Deployed at genesis at 0x0000000000000000000000000000000000001003. A certificate authority
/// admitted by governance (MemberRegistry role CertificateAuthority) — or a center on its behalf — binds
/// an X.509 certificate (SM3 fingerprint of the DER, subject USCC, SM2 public key, validity) to the
/// enterprise account that key controls, once; every center then recognises it. Only the issuing CA
/// revokes. On top of valid certificates: QR-login attestations (a center records the enterprise's
/// signature of its one-time challenge; a challenge is used once), document signature attestations, and
/// sealed-bid commitments (ciphertext hash before the tender's deadline, opening recorded after it).
contract CertificateRegistry {
    uint8 private constant ROLE_CA = 3; // MemberRegistry.Role.CertificateAuthority

    struct Certificate {
        address account; // the enterprise account: the address of `publicKey`
        address issuer; // the CA member
        address registeredBy; // the CA or the center acting for it
        uint64 notBefore;
        uint64 notAfter;
        uint64 revokedAt; // 0 = not revoked
        string uscc; // subject's unified social credit code
        bytes publicKey; // SM2 X‖Y
    }

    struct Signature {
        bytes32 fingerprint;
        address signer;
        uint64 time;
    }

    struct Tender {
        address center;
        uint64 deadline; // bids are sealed until this block timestamp
    }

    struct Bid {
        bytes32 ciphertextHash;
        bytes32 plaintextHash; // set at opening
        uint64 committedAt;
        uint32 version;
        bool opened;
    }

    bytes32 public constant LOGIN_DOMAIN = keccak256("YILIAN/login/v1");

    IMembers public immutable members;
    mapping(bytes32 => Certificate) private _certificates; // fingerprint => certificate
    mapping(address => bytes32) public currentCertificate; // account => its latest certificate
    mapping(bytes32 => bool) public challengeUsed;
    mapping(bytes32 => mapping(bytes32 => Signature)) private _signatures; // document hash => fingerprint => attestation
    mapping(bytes32 => Tender) public tenders; // project id => tender
    mapping(bytes32 => mapping(address => Bid)) private _bids; // project id => bidder => bid

    event CertificateBound(bytes32 indexed fingerprint, address indexed account, address indexed issuer, string uscc, address registeredBy, uint64 notAfter);
    event CertificateRevoked(bytes32 indexed fingerprint, address indexed account, address indexed issuer, string reason);
    event LoggedIn(bytes32 indexed challenge, address indexed account, address indexed center, bytes32 fingerprint);
    event DocumentSigned(bytes32 indexed documentHash, bytes32 indexed fingerprint, address indexed signer);
    event TenderOpened(bytes32 indexed projectId, address indexed center, uint64 deadline);
    event BidCommitted(bytes32 indexed projectId, address indexed bidder, bytes32 ciphertextHash, uint32 version);
    event BidOpened(bytes32 indexed projectId, address indexed bidder, bytes32 plaintextHash, address openedBy);

    error NotCA(address caller);
    error NotCAOrCenter(address caller);
    error CertificateExists(bytes32 fingerprint);
    error UnknownCertificate(bytes32 fingerprint);
    error NotIssuer(address caller, address issuer);
    error AlreadyRevoked(bytes32 fingerprint);
    error InvalidWindow(uint64 notBefore, uint64 notAfter);
    error InvalidKey();
    error KeyNotAccount(address account, address keyAddress);
    error EmptyUscc();
    error NoValidCertificate(address account);
    error CertificateNotValid(bytes32 fingerprint);
    error BadSignature();
    error ChallengeUsed(bytes32 challenge);
    error ChallengeExpired(bytes32 challenge, uint64 expiresAt);
    error NotCenter(address caller);
    error AlreadyAttested(bytes32 documentHash, bytes32 fingerprint);
    error TenderExists(bytes32 projectId);
    error UnknownTender(bytes32 projectId);
    error DeadlinePassed(bytes32 projectId, uint64 deadline);
    error NotYetOpen(bytes32 projectId, uint64 deadline);
    error NoBid(bytes32 projectId, address bidder);
    error AlreadyOpened(bytes32 projectId, address bidder);
    error NotTenderCenter(address caller, address center);

    constructor(address memberRegistry) {
        members = IMembers(memberRegistry);
    }

    // -- certificates -----------------------------------------------------------------------------

    /// @notice Bind a certificate to the account its key controls. `issuer` is the CA; a center may register
    /// for an admitted CA (it has checked the chain to that CA's root off chain), the CA itself may too.
    function bind(bytes32 fingerprint, address issuer, string calldata uscc, bytes calldata publicKey, uint64 notBefore, uint64 notAfter)
        external
    {
        if (!members.hasRole(issuer, ROLE_CA)) revert NotCA(issuer);
        if (msg.sender != issuer && !members.isCenter(msg.sender)) revert NotCAOrCenter(msg.sender);
        if (_certificates[fingerprint].account != address(0)) revert CertificateExists(fingerprint);
        if (notAfter <= notBefore || notAfter <= block.timestamp) revert InvalidWindow(notBefore, notAfter);
        if (bytes(uscc).length == 0) revert EmptyUscc();
        address account = _keyAddress(publicKey);
        _certificates[fingerprint] = Certificate(account, issuer, msg.sender, notBefore, notAfter, 0, uscc, publicKey);
        currentCertificate[account] = fingerprint;
        emit CertificateBound(fingerprint, account, issuer, uscc, msg.sender, notAfter);
    }

    function revoke(bytes32 fingerprint, string calldata reason) external {
        Certificate storage c = _certificates[fingerprint];
        if (c.account == address(0)) revert UnknownCertificate(fingerprint);
        if (msg.sender != c.issuer) revert NotIssuer(msg.sender, c.issuer);
        if (c.revokedAt != 0) revert AlreadyRevoked(fingerprint);
        c.revokedAt = uint64(block.timestamp);
        emit CertificateRevoked(fingerprint, c.account, c.issuer, reason);
    }

    function certificate(bytes32 fingerprint) external view returns (Certificate memory) {
        Certificate memory c = _certificates[fingerprint];
        if (c.account == address(0)) revert UnknownCertificate(fingerprint);
        return c;
    }

    /// @return whether the certificate is bound, not revoked, within its validity and its CA still admitted.
    function isValid(bytes32 fingerprint) public view returns (bool) {
        Certificate storage c = _certificates[fingerprint];
        return c.account != address(0) && c.revokedAt == 0 && block.timestamp >= c.notBefore && block.timestamp <= c.notAfter
            && members.hasRole(c.issuer, ROLE_CA);
    }

    function _keyAddress(bytes calldata publicKey) private view returns (address) {
        if (publicKey.length != 64) revert InvalidKey();
        return address(uint160(uint256(GmCrypto.sm3(publicKey))));
    }

    function _validKeyOf(address account) private view returns (bytes32 fingerprint, bytes memory key) {
        fingerprint = currentCertificate[account];
        if (fingerprint == bytes32(0) || !isValid(fingerprint)) revert NoValidCertificate(account);
        key = _certificates[fingerprint].publicKey;
    }

    // -- QR login --------------------------------------------------------------------------------

    /// @return the 32-byte message the enterprise's wallet signs to log in at `center` with `challenge`.
    function loginDigest(address center, address account, bytes32 challenge, uint64 expiresAt) public view returns (bytes32) {
        return keccak256(abi.encode(LOGIN_DOMAIN, block.chainid, address(this), center, account, challenge, expiresAt));
    }

    /// @notice A center records a QR login: the account's signature (with its valid certificate's key) of the
    /// center's one-time challenge. A challenge is accepted once, on any center, and only before it expires.
    function attestLogin(bytes32 challenge, address account, uint64 expiresAt, bytes calldata signature) external {
        if (!members.isCenter(msg.sender)) revert NotCenter(msg.sender);
        if (challengeUsed[challenge]) revert ChallengeUsed(challenge);
        if (block.timestamp > expiresAt) revert ChallengeExpired(challenge, expiresAt);
        (bytes32 fingerprint, bytes memory key) = _validKeyOf(account);
        if (!GmCrypto.sm2Verify(key, abi.encodePacked(loginDigest(msg.sender, account, challenge, expiresAt)), signature)) revert BadSignature();
        challengeUsed[challenge] = true;
        emit LoggedIn(challenge, account, msg.sender, fingerprint);
    }

    // -- document signatures -------------------------------------------------------------------------

    /// @notice Attest that the holder of certificate `fingerprint` signed `documentHash` (SM2 over the 32 bytes).
    /// Anyone may submit; the signature is checked on chain against the certificate, which must be valid now.
    function attestSignature(bytes32 documentHash, bytes32 fingerprint, bytes calldata signature) external {
        if (!isValid(fingerprint)) revert CertificateNotValid(fingerprint);
        if (_signatures[documentHash][fingerprint].time != 0) revert AlreadyAttested(documentHash, fingerprint);
        Certificate storage c = _certificates[fingerprint];
        if (!GmCrypto.sm2Verify(c.publicKey, abi.encodePacked(documentHash), signature)) revert BadSignature();
        _signatures[documentHash][fingerprint] = Signature(fingerprint, c.account, uint64(block.timestamp));
        emit DocumentSigned(documentHash, fingerprint, c.account);
    }

    function signatureOf(bytes32 documentHash, bytes32 fingerprint) external view returns (Signature memory) {
        return _signatures[documentHash][fingerprint];
    }

    // -- sealed bids ----------------------------------------------------------------------------------

    /// @notice A center opens a tender for `projectId`: bids are sealed until `deadline` (block timestamp).
    function openTender(bytes32 projectId, uint64 deadline) external {
        if (!members.isCenter(msg.sender)) revert NotCenter(msg.sender);
        if (tenders[projectId].center != address(0)) revert TenderExists(projectId);
        if (deadline <= block.timestamp) revert DeadlinePassed(projectId, deadline);
        tenders[projectId] = Tender(msg.sender, deadline);
        emit TenderOpened(projectId, msg.sender, deadline);
    }

    /// @notice A bidder with a valid certificate commits the hash of its encrypted bid file; it may replace
    /// it until the deadline (each replacement is a new version).
    function commitBid(bytes32 projectId, bytes32 ciphertextHash) external {
        Tender memory t = tenders[projectId];
        if (t.center == address(0)) revert UnknownTender(projectId);
        if (block.timestamp >= t.deadline) revert DeadlinePassed(projectId, t.deadline);
        _validKeyOf(msg.sender);
        Bid storage b = _bids[projectId][msg.sender];
        b.ciphertextHash = ciphertextHash;
        b.committedAt = uint64(block.timestamp);
        b.version += 1;
        emit BidCommitted(projectId, msg.sender, ciphertextHash, b.version);
    }

    /// @notice After the deadline the bidder (or the tender's center) records the opening: the hash of the
    /// decrypted bid file. Anyone can then check the file against both hashes.
    function openBid(bytes32 projectId, address bidder, bytes32 plaintextHash) external {
        Tender memory t = tenders[projectId];
        if (t.center == address(0)) revert UnknownTender(projectId);
        if (msg.sender != bidder && msg.sender != t.center) revert NotTenderCenter(msg.sender, t.center);
        if (block.timestamp < t.deadline) revert NotYetOpen(projectId, t.deadline);
        Bid storage b = _bids[projectId][bidder];
        if (b.version == 0) revert NoBid(projectId, bidder);
        if (b.opened) revert AlreadyOpened(projectId, bidder);
        b.opened = true;
        b.plaintextHash = plaintextHash;
        emit BidOpened(projectId, bidder, plaintextHash, msg.sender);
    }

    function bidOf(bytes32 projectId, address bidder) external view returns (Bid memory) {
        return _bids[projectId][bidder];
    }
}
