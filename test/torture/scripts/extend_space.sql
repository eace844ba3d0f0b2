SELECT torture.extend_space();
