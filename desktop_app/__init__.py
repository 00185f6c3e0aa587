"""Audio Converter desktop app, its command line and its client core."""

__version__ = "0.1.0"
