"""Adapters from the core's ports to outside systems (today: RQ for background jobs)."""
