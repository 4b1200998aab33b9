"""pytest plugin for triage-queue users (being built)."""
