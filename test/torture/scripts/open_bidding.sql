SELECT torture.open_bidding();
