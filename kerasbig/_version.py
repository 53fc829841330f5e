"""The package version, read by `kerasbig.__version__` and the build."""

__version__ = "0.1.0.dev0"
