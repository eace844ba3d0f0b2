SELECT torture.why_not();
