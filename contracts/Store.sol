// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title Store: one storage slot, an event, and each kind of revert (tests and `yilian bench`).
contract Store {
    uint256 public value;
    address public immutable owner;

    event ValueChanged(address indexed by, uint256 oldValue, uint256 newValue);

    error NotOwner(address caller);

    constructor() {
        owner = msg.sender;
    }

    function set(uint256 newValue) external {
        emit ValueChanged(msg.sender, value, newValue);
        value = newValue;
    }

    function get() external view returns (uint256) {
        return value;
    }

    function increment() external returns (uint256) {
        value += 1;
        emit ValueChanged(msg.sender, value - 1, value);
        return value;
    }

    function failWith(string calldata reason) external pure {
        revert(reason);
    }

    function ownerOnly() external view {
        if (msg.sender != owner) revert NotOwner(msg.sender);
    }
}
