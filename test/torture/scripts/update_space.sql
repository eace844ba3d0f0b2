SELECT torture.update_space();
