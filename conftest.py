"""Registers the probe plugin when pytest runs from the repository root.

After ``pip install`` the same plugin loads through the ``pytest11`` entry point instead.
"""
