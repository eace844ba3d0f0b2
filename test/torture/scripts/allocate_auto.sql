SELECT torture.allocate_auto();
