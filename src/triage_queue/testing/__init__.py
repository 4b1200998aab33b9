"""Testing kit for your own routing policies (being built)."""
