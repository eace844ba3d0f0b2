SELECT torture.submit_result();
