"""Work dispatch: where queued jobs get converted."""
