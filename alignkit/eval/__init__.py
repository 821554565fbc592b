"""alignkit.eval."""
