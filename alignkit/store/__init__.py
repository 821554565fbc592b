"""alignkit.store."""
