"""Secure reference API for the probe suite, with a catalogue of planted flaws."""

__version__ = "0.1.0"
