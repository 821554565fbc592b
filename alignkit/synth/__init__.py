"""alignkit.synth."""
