SELECT torture.trigger_space();
