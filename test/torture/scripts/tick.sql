SELECT torture.tick();
