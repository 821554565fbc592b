"""alignkit.align._kernels."""
