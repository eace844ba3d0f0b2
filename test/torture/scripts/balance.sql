SELECT torture.balance();
