"""alignkit.align."""
