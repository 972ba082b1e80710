"""The package version, in one place: read by ``ember.__version__``, the build (pyproject's dynamic
version), the command line's ``--version`` and the ONNX exporter's producer field."""
__version__ = "0.1.0"
