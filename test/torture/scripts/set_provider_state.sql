SELECT torture.set_provider_state();
