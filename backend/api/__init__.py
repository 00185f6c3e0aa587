"""HTTP API: thin routes over the job service."""
