"""Dagster and ophost, both ways (the ``dagster`` extra: ``pip install ophost[dagster]``).

- Serving Dagster ops: ``ophost serve`` hosts the ops of a module written with Dagster
  itself (module-level ops, and the ops of its ``Definitions``' jobs and graphs), run
  by Dagster's own machinery; see :mod:`ophost.dagster._adapt` and docs/dagster.md.
- Calling ophost ops from Dagster: :class:`OphostResource` runs an op on a remote host
  from a Dagster op or asset, its events reappearing in Dagster's event log.

This is the only package of ophost that imports ``dagster``.
"""

from ophost.dagster._adapt import adapt_namespace, ophost_op
from ophost.dagster._resource import OphostResource, RemoteOpCanceled

__all__ = ["OphostResource", "RemoteOpCanceled", "adapt_namespace", "ophost_op"]
