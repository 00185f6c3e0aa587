"""Jobs: the job record, its state machine and the service that runs it."""
