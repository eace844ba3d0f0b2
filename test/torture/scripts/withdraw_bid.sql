SELECT torture.withdraw_bid();
