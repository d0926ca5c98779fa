"""The Python worker program: ``python -m ophost.worker``.

A host running ops with the process executor starts it, once per pool slot, with
one end of a socket pair; it loads the same ops as the host and runs the attempts the
host assigns over the worker protocol (``protos/ophost/v1/worker.proto``). It is not
meant to be started by hand.
"""

from ophost.worker._main import main

__all__ = ["main"]
