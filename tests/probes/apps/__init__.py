"""Fixture APIs for the probe self-tests, each served by uvicorn in a subprocess."""
