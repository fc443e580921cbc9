"""Small fixture APIs, shaped unlike target_app, described by the profiles in probes/profiles/."""
