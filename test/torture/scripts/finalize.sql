SELECT torture.finalize();
