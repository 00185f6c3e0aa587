"""Client core: talks to a backend over HTTP. Imports no Qt.

The window and the command line both use it, and its tests need no display.
"""
