"""The one version string of the edgeacc distribution (pyproject.toml reads it from here)."""
__version__ = "0.1.0"
