SELECT torture.publish_task();
