"""Benchmarks of Audio Converter against bare FFmpeg, pydub and SoundConverter.

Run `python -m bench` (or `make bench`); docs/benchmarks.md explains each table.
"""
