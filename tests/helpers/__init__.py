"""Fixtures, fault injectors and audio factories shared by the tests."""
