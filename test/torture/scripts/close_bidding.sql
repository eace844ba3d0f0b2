SELECT torture.close_bidding();
