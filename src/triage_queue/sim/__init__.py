"""Contact-centre simulator (``python -m triage_queue simulate``); never imported by the core."""
