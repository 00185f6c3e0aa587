"""Conversion backend: an HTTP API that converts audio files with FFmpeg."""

__version__ = "0.1.0"
