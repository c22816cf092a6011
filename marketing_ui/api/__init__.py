"""Public HTTP endpoints mounted on the Reflex backend (tracking, unsubscribe, QR, webhooks)."""
