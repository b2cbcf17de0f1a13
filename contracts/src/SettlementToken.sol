// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title Tokenised GBP for settlement (tests and development chains)
/// @notice One unit is one penny: 2 decimals, so the bot's integer pennies are the token's amounts.
/// On a production network the settlement asset is issued by its operator; this token stands in
/// for it where the bot deploys its own chain.
contract SettlementToken is ERC20, Ownable {
    constructor() ERC20("Settlement GBP", "sGBP") Ownable(msg.sender) {}

    /// @dev Pennies, not the ERC-20 default of 18 decimals.
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /// @notice Issue `amount` pennies to `to`; only the issuer (the owner) may.
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
