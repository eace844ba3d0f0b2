SELECT torture.allocate_ids();
