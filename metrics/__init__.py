"""Metrics: one module per metric family. Metrics only call a model's public interface
(encode / decode / interpolate / sample), never its internals."""
