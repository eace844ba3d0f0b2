SELECT torture.create_space();
