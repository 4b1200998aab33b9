"""Benchmark suite (``python -m triage_queue bench``); never imported by the core."""
