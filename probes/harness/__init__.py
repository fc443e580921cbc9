"""The harness under the probes: client, evidence, verdicts, catalogue, profiles, launcher."""
