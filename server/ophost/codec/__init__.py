"""Pure conversions between ophost's authoring objects and ``ophost.v1`` messages.

One module per type family, each with a ``to_proto`` / ``from_proto`` pair:
``values`` (inputs, outputs, config), ``metadata`` (entries, values, asset keys,
tables), ``types`` (input/output types), ``config`` (config schemas), ``definitions``
(op definitions and retry policies), ``failures`` (exceptions as data) and ``events``
(execution events), plus ``chunks`` (large values as ordered chunks) and ``status``
(reading the details of an RPC error). Nothing here imports grpc; the server and the
Python client both use these functions, so both ends speak exactly the same mapping.
"""

from ophost.codec import (
    chunks,
    config,
    definitions,
    events,
    failures,
    metadata,
    status,
    types,
    values,
)

__all__ = [
    "chunks",
    "config",
    "definitions",
    "events",
    "failures",
    "metadata",
    "status",
    "types",
    "values",
]
