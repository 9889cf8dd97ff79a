"""Subcommands of the ``convlab`` command, one module each.

A module here defines ``register(subparsers)``, which adds its parser and sets
``func`` (called with the parsed arguments; returns the exit code). ``convlab.cli``
imports every module in this package, so adding a command is adding a file.
"""
