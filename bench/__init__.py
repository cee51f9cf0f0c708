"""interpbench: a benchmark suite for interpolative autoencoders on cross-domain pairs."""

__version__ = "0.1.0"
