"""Storage interfaces and their embedded adapters."""
