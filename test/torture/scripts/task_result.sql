SELECT torture.task_result();
