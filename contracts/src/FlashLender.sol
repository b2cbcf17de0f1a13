// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IERC3156FlashLender} from "@openzeppelin/contracts/interfaces/IERC3156FlashLender.sol";
import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";

/// @title ERC-3156 flash lender of one settlement token
/// @notice Lends its whole balance of `token` for the length of one transaction: the amount goes
/// to the receiver, the receiver's `onFlashLoan` runs, and amount plus fee is pulled back, or the
/// whole transaction reverts and nothing moved.
/// @dev The fee is `feeBp` basis points of the amount, rounded to the nearest whole token unit
/// (penny), half up: the rule the bot's simulated lender and its cost model use, so a cycle's
/// expected fee and the fee paid on chain agree to the penny. A borrower reads the exact fee
/// from `flashFee` before it borrows or from the `FlashLoan` event afterwards.
contract FlashLender is IERC3156FlashLender, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The value a receiver's `onFlashLoan` returns to accept the loan (ERC-3156).
    bytes32 public constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");
    uint256 private constant BP = 10_000;

    IERC20 public immutable token;
    uint256 public immutable feeBp;

    error UnsupportedToken(address token);
    error InsufficientLiquidity(uint256 requested, uint256 available);
    error CallbackFailed();
    error RepayFailed();
    error FeeTooHigh(uint256 feeBp);

    /// @notice Every repaid loan; `ref` is the first 32 bytes of the loan's data (the bot puts
    /// the keccak of its cycle id there), zero when the data is shorter.
    event FlashLoan(
        address indexed receiver, address indexed initiator, uint256 amount, uint256 fee, bytes32 indexed ref
    );

    constructor(IERC20 token_, uint256 feeBp_) {
        if (feeBp_ > BP) revert FeeTooHigh(feeBp_);
        token = token_;
        feeBp = feeBp_;
    }

    /// @inheritdoc IERC3156FlashLender
    function maxFlashLoan(address token_) external view returns (uint256) {
        return token_ == address(token) ? token.balanceOf(address(this)) : 0;
    }

    /// @inheritdoc IERC3156FlashLender
    function flashFee(address token_, uint256 amount) external view returns (uint256) {
        if (token_ != address(token)) revert UnsupportedToken(token_);
        return _fee(amount);
    }

    /// @inheritdoc IERC3156FlashLender
    function flashLoan(IERC3156FlashBorrower receiver, address token_, uint256 amount, bytes calldata data)
        external
        nonReentrant
        returns (bool)
    {
        if (token_ != address(token)) revert UnsupportedToken(token_);
        uint256 available = token.balanceOf(address(this));
        if (amount > available) revert InsufficientLiquidity(amount, available);
        uint256 fee = _fee(amount);

        token.safeTransfer(address(receiver), amount);
        if (receiver.onFlashLoan(msg.sender, token_, amount, fee, data) != CALLBACK_SUCCESS) {
            revert CallbackFailed();
        }
        // A receiver that did not approve (or cannot cover) amount + fee fails here as a whole.
        if (!token.trySafeTransferFrom(address(receiver), address(this), amount + fee)) revert RepayFailed();

        emit FlashLoan(address(receiver), msg.sender, amount, fee, data.length >= 32 ? bytes32(data[0:32]) : bytes32(0));
        return true;
    }

    function _fee(uint256 amount) private view returns (uint256) {
        return (amount * feeBp + BP / 2) / BP;
    }
}
