SELECT torture.deposit();
