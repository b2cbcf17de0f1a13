// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";

/// @title A receiver that accepts a loan and never approves its repayment
/// @notice For tests: the lender's pull of amount + fee fails, so the loan reverts with
/// `RepayFailed()` and nothing moved.
contract NonRepayingReceiver is IERC3156FlashBorrower {
    function onFlashLoan(address, address, uint256, uint256, bytes calldata) external pure returns (bytes32) {
        return keccak256("ERC3156FlashBorrower.onFlashLoan");
    }
}
