SELECT torture.cancel_task();
