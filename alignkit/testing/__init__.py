"""alignkit.testing."""
