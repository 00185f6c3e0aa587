"""Qt widgets, item models and the thread glue of the desktop window."""
