SELECT torture.place_bid();
