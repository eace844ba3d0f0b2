SELECT torture.register_provider();
