// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {GmCrypto} from "./lib/GmCrypto.sol";
import {IMembers, IRecords} from "./lib/Registries.sol";

/// @title Guarantee (YiLianBao): electronic bid guarantees any center can verify.
/// @notice Deployed at genesis at 0x0000000000000000000000000000000000001004. A financial institution
/// admitted by governance grants an enterprise a credit line once ("granted once, used anywhere"). The
/// enterprise applies for a bid guarantee for a project a center anchored (RecordRegistry record of type
/// keccak256("project")), naming the beneficiary, the amount and the institution; it can have one live
/// application per project across all institutions. The institution issues (consuming credit, with its SM2
/// signature of the guarantee) or rejects. `verify(number)` is what a center calls: a guarantee is valid only
/// when issued here by an institution that is still admitted, live and within its validity.
contract Guarantee {
    uint8 private constant ROLE_INSTITUTION = 2; // MemberRegistry.Role.FinancialInstitution
    bytes32 public constant PROJECT_TYPE = keccak256("project");
    bytes32 public constant GUARANTEE_DOMAIN = keccak256("YILIAN/guarantee/v1");

    enum Status { None, Applied, Rejected, Cancelled, Issued, Released, Claimed, PaidOut, Expired }

    struct CreditLine {
        uint128 limit;
        uint128 used;
        uint64 notAfter;
    }

    struct Application {
        address enterprise;
        address institution;
        address beneficiary;
        bytes32 projectId;
        uint128 amount;
        Status status;
        uint64 appliedAt;
        bytes32 guaranteeNo; // set when issued
    }

    struct Issued {
        uint256 applicationId;
        uint64 issuedAt;
        uint64 notAfter;
        bytes32 documentHash;
        bytes signature; // the institution's SM2 signature of guaranteeDigest(...)
        bytes publicKey; // its key X‖Y (address = the institution account)
    }

    struct Verification {
        bool valid;
        Status status;
        address enterprise;
        address beneficiary;
        bytes32 projectId;
        uint128 amount;
        uint64 notAfter;
        address institution;
    }

    IMembers public immutable members;
    IRecords public immutable records;
    mapping(address => mapping(address => CreditLine)) public creditLines; // institution => enterprise => line
    Application[] private _applications;
    mapping(address => mapping(bytes32 => uint256)) public liveApplication; // enterprise => project => id + 1
    mapping(bytes32 => Issued) private _guarantees; // guarantee number => issue record

    event CreditLineSet(address indexed institution, address indexed enterprise, uint128 limit, uint64 notAfter);
    event Applied(uint256 indexed applicationId, address indexed enterprise, bytes32 indexed projectId, address institution, address beneficiary, uint128 amount);
    event Rejected(uint256 indexed applicationId, address indexed institution, string reason);
    event Cancelled(uint256 indexed applicationId, address indexed enterprise);
    event GuaranteeIssued(bytes32 indexed guaranteeNo, uint256 indexed applicationId, address indexed institution, address enterprise, bytes32 projectId, uint128 amount, uint64 notAfter, bytes32 documentHash);
    event Postponed(bytes32 indexed guaranteeNo, uint64 previousNotAfter, uint64 notAfter);
    event Released(bytes32 indexed guaranteeNo, address by);
    event Claimed(bytes32 indexed guaranteeNo, address indexed beneficiary, string reason);
    event PaidOut(bytes32 indexed guaranteeNo, address indexed institution);
    event Expired(bytes32 indexed guaranteeNo);

    error NotInstitution(address account);
    error EnterpriseBlacklisted(address enterprise);
    error InvalidAmount();
    error InvalidWindow(uint64 notAfter);
    error UnknownProject(bytes32 projectId);
    error ApplicationExists(address enterprise, bytes32 projectId, uint256 applicationId);
    error UnknownApplication(uint256 applicationId);
    error WrongStatus(Status status, Status expected);
    error NotApplicant(address caller, address enterprise);
    error NotChosenInstitution(address caller, address institution);
    error NoCreditLine(address institution, address enterprise);
    error CreditExpired(address institution, address enterprise, uint64 notAfter);
    error InsufficientCredit(uint128 available, uint128 amount);
    error GuaranteeExists(bytes32 guaranteeNo);
    error UnknownGuarantee(bytes32 guaranteeNo);
    error BadSignature();
    error KeyNotInstitution(address institution, address keyAddress);
    error NotBeneficiary(address caller, address beneficiary);
    error NotBeneficiaryOrInstitution(address caller);
    error GuaranteeLapsed(bytes32 guaranteeNo, uint64 notAfter);
    error NotYetExpired(bytes32 guaranteeNo, uint64 notAfter);

    constructor(address memberRegistry, address recordRegistry) {
        members = IMembers(memberRegistry);
        records = IRecords(recordRegistry);
    }

    modifier onlyInstitution() {
        if (!members.hasRole(msg.sender, ROLE_INSTITUTION)) revert NotInstitution(msg.sender);
        _;
    }

    // -- credit lines -------------------------------------------------------------------------------

    /// @notice Grant or change an enterprise's credit line; `limit` below what is in use only stops new issues.
    function setCreditLine(address enterprise, uint128 limit, uint64 notAfter) external onlyInstitution {
        if (members.blacklisted(enterprise)) revert EnterpriseBlacklisted(enterprise);
        if (notAfter <= block.timestamp) revert InvalidWindow(notAfter);
        CreditLine storage line = creditLines[msg.sender][enterprise];
        line.limit = limit;
        line.notAfter = notAfter;
        emit CreditLineSet(msg.sender, enterprise, limit, notAfter);
    }

    /// @return the credit still available to `enterprise` at `institution` now (0 once the line lapsed).
    function availableCredit(address institution, address enterprise) public view returns (uint128) {
        CreditLine storage line = creditLines[institution][enterprise];
        if (line.notAfter < block.timestamp || line.used >= line.limit) return 0;
        return line.limit - line.used;
    }

    // -- applications --------------------------------------------------------------------------------

    function applyFor(bytes32 projectId, address beneficiary, uint128 amount, address institution) external returns (uint256 id) {
        if (members.blacklisted(msg.sender)) revert EnterpriseBlacklisted(msg.sender);
        if (!members.hasRole(institution, ROLE_INSTITUTION)) revert NotInstitution(institution);
        if (amount == 0 || beneficiary == address(0)) revert InvalidAmount();
        _checkProject(projectId);
        uint256 live = liveApplication[msg.sender][projectId];
        if (live != 0) revert ApplicationExists(msg.sender, projectId, live - 1);
        id = _applications.length;
        _applications.push(Application(msg.sender, institution, beneficiary, projectId, amount, Status.Applied, uint64(block.timestamp), bytes32(0)));
        liveApplication[msg.sender][projectId] = id + 1;
        emit Applied(id, msg.sender, projectId, institution, beneficiary, amount);
    }

    function _checkProject(bytes32 projectId) private view {
        try records.record(projectId) returns (IRecords.Record memory r) {
            if (r.recordType != PROJECT_TYPE || r.revoked) revert UnknownProject(projectId);
        } catch {
            revert UnknownProject(projectId);
        }
    }

    function application(uint256 id) public view returns (Application memory) {
        if (id >= _applications.length) revert UnknownApplication(id);
        return _applications[id];
    }

    function applicationCount() external view returns (uint256) {
        return _applications.length;
    }

    function _pending(uint256 id) private view returns (Application storage a) {
        if (id >= _applications.length) revert UnknownApplication(id);
        a = _applications[id];
        if (a.status != Status.Applied) revert WrongStatus(a.status, Status.Applied);
    }

    function _close(Application storage a, Status status) private {
        a.status = status;
        delete liveApplication[a.enterprise][a.projectId];
    }

    function cancel(uint256 id) external {
        Application storage a = _pending(id);
        if (msg.sender != a.enterprise) revert NotApplicant(msg.sender, a.enterprise);
        _close(a, Status.Cancelled);
        emit Cancelled(id, msg.sender);
    }

    function reject(uint256 id, string calldata reason) external {
        Application storage a = _pending(id);
        if (msg.sender != a.institution) revert NotChosenInstitution(msg.sender, a.institution);
        _close(a, Status.Rejected);
        emit Rejected(id, msg.sender, reason);
    }

    // -- guarantees ----------------------------------------------------------------------------------

    /// @return the 32-byte message the institution signs (SM2) when it issues guarantee `guaranteeNo`.
    function guaranteeDigest(bytes32 guaranteeNo, uint256 applicationId, uint64 notAfter, bytes32 documentHash) public view returns (bytes32) {
        Application memory a = application(applicationId);
        return keccak256(abi.encode(GUARANTEE_DOMAIN, block.chainid, address(this), guaranteeNo, applicationId, a.enterprise,
            a.institution, a.beneficiary, a.projectId, a.amount, notAfter, documentHash));
    }

    /// @notice The chosen institution issues the guarantee: consumes the application's amount of credit.
    function issue(uint256 id, bytes32 guaranteeNo, uint64 notAfter, bytes32 documentHash, bytes calldata publicKey, bytes calldata signature) external {
        Application storage a = _pending(id);
        if (msg.sender != a.institution) revert NotChosenInstitution(msg.sender, a.institution);
        if (!members.hasRole(msg.sender, ROLE_INSTITUTION)) revert NotInstitution(msg.sender);
        if (members.blacklisted(a.enterprise)) revert EnterpriseBlacklisted(a.enterprise);
        if (guaranteeNo == bytes32(0) || _guarantees[guaranteeNo].issuedAt != 0) revert GuaranteeExists(guaranteeNo);
        if (notAfter <= block.timestamp) revert InvalidWindow(notAfter);
        _consumeCredit(a);
        _checkSignature(guaranteeDigest(guaranteeNo, id, notAfter, documentHash), publicKey, signature);
        a.status = Status.Issued;
        a.guaranteeNo = guaranteeNo;
        _guarantees[guaranteeNo] = Issued(id, uint64(block.timestamp), notAfter, documentHash, signature, publicKey);
        emit GuaranteeIssued(guaranteeNo, id, msg.sender, a.enterprise, a.projectId, a.amount, notAfter, documentHash);
    }

    function _consumeCredit(Application storage a) private {
        CreditLine storage line = creditLines[msg.sender][a.enterprise];
        if (line.limit == 0) revert NoCreditLine(msg.sender, a.enterprise);
        if (line.notAfter < block.timestamp) revert CreditExpired(msg.sender, a.enterprise, line.notAfter);
        uint128 available = line.used >= line.limit ? 0 : line.limit - line.used;
        if (available < a.amount) revert InsufficientCredit(available, a.amount);
        line.used += a.amount;
    }

    function _checkSignature(bytes32 digest, bytes calldata publicKey, bytes calldata signature) private view {
        if (publicKey.length != 64) revert BadSignature();
        address keyAddress = address(uint160(uint256(GmCrypto.sm3(publicKey))));
        if (keyAddress != msg.sender) revert KeyNotInstitution(msg.sender, keyAddress);
        if (!GmCrypto.sm2Verify(publicKey, abi.encodePacked(digest), signature)) revert BadSignature();
    }

    function _issued(bytes32 guaranteeNo) private view returns (Issued storage g, Application storage a) {
        g = _guarantees[guaranteeNo];
        if (g.issuedAt == 0) revert UnknownGuarantee(guaranteeNo);
        a = _applications[g.applicationId];
    }

    function guarantee(bytes32 guaranteeNo) external view returns (Issued memory issued, Application memory app) {
        (Issued storage g, Application storage a) = _issued(guaranteeNo);
        return (g, a);
    }

    /// @notice What a center checks before accepting a bid guarantee.
    /// @return v with v.valid true only for a guarantee issued here, live (issued, not released/claimed/expired),
    /// within its validity, by an institution that is still admitted.
    function verify(bytes32 guaranteeNo) external view returns (Verification memory v) {
        Issued storage g = _guarantees[guaranteeNo];
        if (g.issuedAt == 0) return v;
        Application storage a = _applications[g.applicationId];
        v.valid = a.status == Status.Issued && block.timestamp <= g.notAfter && members.hasRole(a.institution, ROLE_INSTITUTION);
        v.status = a.status;
        v.enterprise = a.enterprise;
        v.beneficiary = a.beneficiary;
        v.projectId = a.projectId;
        v.amount = a.amount;
        v.notAfter = g.notAfter;
        v.institution = a.institution;
    }

    /// @notice The bid opening was delayed: the institution extends the guarantee's validity.
    function postpone(bytes32 guaranteeNo, uint64 notAfter) external {
        (Issued storage g, Application storage a) = _issued(guaranteeNo);
        if (msg.sender != a.institution) revert NotChosenInstitution(msg.sender, a.institution);
        if (a.status != Status.Issued) revert WrongStatus(a.status, Status.Issued);
        if (block.timestamp > g.notAfter) revert GuaranteeLapsed(guaranteeNo, g.notAfter);
        if (notAfter <= g.notAfter) revert InvalidWindow(notAfter);
        emit Postponed(guaranteeNo, g.notAfter, notAfter);
        g.notAfter = notAfter;
    }

    /// @notice The bid is over without a claim: the beneficiary or the institution releases the guarantee.
    function release(bytes32 guaranteeNo) external {
        (, Application storage a) = _issued(guaranteeNo);
        if (msg.sender != a.beneficiary && msg.sender != a.institution) revert NotBeneficiaryOrInstitution(msg.sender);
        if (a.status != Status.Issued) revert WrongStatus(a.status, Status.Issued);
        _returnCredit(a);
        _close(a, Status.Released);
        emit Released(guaranteeNo, msg.sender);
    }

    /// @notice The beneficiary claims under the guarantee (the bidder withdrew, refused the award, ...).
    function claim(bytes32 guaranteeNo, string calldata reason) external {
        (Issued storage g, Application storage a) = _issued(guaranteeNo);
        if (msg.sender != a.beneficiary) revert NotBeneficiary(msg.sender, a.beneficiary);
        if (a.status != Status.Issued) revert WrongStatus(a.status, Status.Issued);
        if (block.timestamp > g.notAfter) revert GuaranteeLapsed(guaranteeNo, g.notAfter);
        a.status = Status.Claimed;
        emit Claimed(guaranteeNo, msg.sender, reason);
    }

    /// @notice The institution paid the claim; the credit stays used.
    function payOut(bytes32 guaranteeNo) external {
        (, Application storage a) = _issued(guaranteeNo);
        if (msg.sender != a.institution) revert NotChosenInstitution(msg.sender, a.institution);
        if (a.status != Status.Claimed) revert WrongStatus(a.status, Status.Claimed);
        _close(a, Status.PaidOut);
        emit PaidOut(guaranteeNo, msg.sender);
    }

    /// @notice Anyone marks a guarantee past its validity as expired; its credit returns to the line.
    function expire(bytes32 guaranteeNo) external {
        (Issued storage g, Application storage a) = _issued(guaranteeNo);
        if (a.status != Status.Issued) revert WrongStatus(a.status, Status.Issued);
        if (block.timestamp <= g.notAfter) revert NotYetExpired(guaranteeNo, g.notAfter);
        _returnCredit(a);
        _close(a, Status.Expired);
        emit Expired(guaranteeNo);
    }

    function _returnCredit(Application storage a) private {
        CreditLine storage line = creditLines[a.institution][a.enterprise];
        line.used = line.used >= a.amount ? line.used - a.amount : 0;
    }
}
