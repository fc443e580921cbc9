"""The probe suite's pytest plugin (filled in by the harness)."""
