// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC3156FlashBorrower} from "@openzeppelin/contracts/interfaces/IERC3156FlashBorrower.sol";

/// @title The atomic settlement of one trading cycle
/// @notice Inside the flash loan's callback it pays the power seller, collects the futures
/// proceeds from the buyer's escrow (an allowance the escrow granted this contract) and approves
/// the repayment. Unless the proceeds cover loan + fee + the cycle's minimum profit the whole
/// transaction reverts: the loan, both settlements and the repayment happen together or not at all.
/// The profit stays here (the desk's treasury) until the owner withdraws it.
/// @dev Owned by the bot's signer: only a loan the owner initiated through the configured lender
/// is accepted, so nobody else can make this contract pay the seller.
contract SettlementReceiver is IERC3156FlashBorrower, Ownable {
    using SafeERC20 for IERC20;

    bytes32 private constant CALLBACK_SUCCESS = keccak256("ERC3156FlashBorrower.onFlashLoan");

    IERC20 public immutable token;
    address public lender;
    address public seller;
    address public escrow;

    error UntrustedLender(address caller);
    error UntrustedInitiator(address initiator);
    error UnsupportedToken(address token);
    error PaymentExceedsLoan(uint256 pay, uint256 amount);
    error ProceedsShort(uint256 collect, uint256 due);

    event Settled(bytes32 indexed cycleRef, uint256 pay, uint256 collect, uint256 fee);
    event Configured(address lender, address seller, address escrow);

    constructor(address lender_, IERC20 token_, address seller_, address escrow_) Ownable(msg.sender) {
        token = token_;
        _configure(lender_, seller_, escrow_);
    }

    /// @notice Point the receiver at another lender or other counterparties (the owner only).
    function configure(address lender_, address seller_, address escrow_) external onlyOwner {
        _configure(lender_, seller_, escrow_);
    }

    /// @notice Move treasury (accumulated profit) out; the owner only.
    function withdraw(address to, uint256 amount) external onlyOwner {
        token.safeTransfer(to, amount);
    }

    /// @notice `data` is abi.encode(bytes32 cycleRef, uint256 pay, uint256 collect, uint256 minProfit),
    /// all amounts in token units (pennies).
    function onFlashLoan(address initiator, address token_, uint256 amount, uint256 fee, bytes calldata data)
        external
        returns (bytes32)
    {
        if (msg.sender != lender) revert UntrustedLender(msg.sender);
        if (initiator != owner()) revert UntrustedInitiator(initiator);
        if (token_ != address(token)) revert UnsupportedToken(token_);
        (bytes32 cycleRef, uint256 pay, uint256 collect, uint256 minProfit) =
            abi.decode(data, (bytes32, uint256, uint256, uint256));
        // The seller is paid from the loan, never from the treasury.
        if (pay > amount) revert PaymentExceedsLoan(pay, amount);
        uint256 due = amount + fee + minProfit;
        if (collect < due) revert ProceedsShort(collect, due);

        token.safeTransfer(seller, pay);
        token.safeTransferFrom(escrow, address(this), collect);
        token.forceApprove(lender, amount + fee);
        emit Settled(cycleRef, pay, collect, fee);
        return CALLBACK_SUCCESS;
    }

    function _configure(address lender_, address seller_, address escrow_) private {
        lender = lender_;
        seller = seller_;
        escrow = escrow_;
        emit Configured(lender_, seller_, escrow_);
    }
}
