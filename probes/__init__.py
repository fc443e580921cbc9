"""Probe suite for JWT-authenticated HTTP APIs: a pytest plugin, its harness, and probe families."""

__version__ = "0.1.0"
