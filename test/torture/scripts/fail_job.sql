SELECT torture.fail_job();
