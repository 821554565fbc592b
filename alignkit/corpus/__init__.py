"""alignkit.corpus."""
