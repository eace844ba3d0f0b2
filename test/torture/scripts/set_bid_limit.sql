SELECT torture.set_bid_limit();
