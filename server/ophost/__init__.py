"""ophost: host Dagster-style ops and call them from any language over gRPC."""

from ophost._version import __version__

__all__ = ["__version__"]
