"""Pure conversions between ophost's authoring objects and ``ophost.v1`` messages.

One module per type family, each with a ``to_proto`` / ``from_proto`` pair:
``values`` (inputs, outputs, config), ``metadata`` (entries, values, asset keys,
tables), ``types`` (input/output types), ``config`` (config schemas), ``definitions``
(op definitions and retry policies), ``failures`` (exceptions as data) and ``events``
(execution events). Nothing here imports grpc; the server and the Python client both
use these functions, so both ends speak exactly the same mapping.
"""

from ophost.codec import config, definitions, events, failures, metadata, types, values

__all__ = ["config", "definitions", "events", "failures", "metadata", "types", "values"]
