"""Registers the probe plugin when pytest runs from the repository root.

After ``pip install`` the plugin loads through the ``pytest11`` entry point instead; registering it
twice would fail, so this only steps in for a checkout that is not installed.
"""

from importlib.metadata import entry_points

_installed = any(ep.value == "probes.plugin" for ep in entry_points(group="pytest11"))
pytest_plugins = [] if _installed else ["probes.plugin"]
