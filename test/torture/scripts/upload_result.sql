SELECT torture.upload_result();
