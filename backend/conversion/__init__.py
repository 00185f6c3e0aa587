"""Conversion: output formats, the FFmpeg runner, probing and output checks."""
