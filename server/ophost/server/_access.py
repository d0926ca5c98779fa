"""Who is calling and what they may do: the one seam between authentication and handlers.

The access interceptor (:mod:`ophost.server._auth`) authenticates a call, checks the
action its method needs, and binds the caller's :class:`Access` for the rest of the
call (:func:`bind`). Handlers and the runner read it in one place, :func:`current`,
for what only they can decide: which ops a listing shows, whether an op may be run,
whether an execution may be read or canceled, and which executions a listing shows.

Without an access interceptor every call runs with :data:`UNRESTRICTED`: no identity,
every action, every op, every execution. That is the host as it is without a token
file.

The four actions: ``list`` (``ListOps``, ``GetOp``, reflection), ``run`` (``Execute``,
``StartExecution``), ``read`` (``GetExecution``, ``ListExecutions``, ``StreamEvents``)
and ``cancel`` (``CancelExecution``, and a cancel sent on an ``Execute`` stream).
"""

from __future__ import annotations

import contextvars
import fnmatch
from collections.abc import Iterable

from ophost.server import _status

__all__ = [
    "ACTIONS",
    "CANCEL",
    "LIST",
    "READ",
    "RUN",
    "UNRESTRICTED",
    "Access",
    "bind",
    "current",
]

LIST = "list"
RUN = "run"
READ = "read"
CANCEL = "cancel"
ACTIONS = (LIST, RUN, READ, CANCEL)


class Access:
    """What one identity may do.

    ``actions``: the actions allowed (``None``: all). ``ops``: glob patterns of the op
    names it may list, run and read the executions of (``fnmatch`` syntax with ``*``
    and ``?``, case-sensitive; ``None``: every op). ``executions_of``: the identities
    whose executions it may read and cancel besides its own (``None``: everyone's).
    ``max_concurrent``: how many executions it may run at once on this server
    process (``None``: no limit of its own).
    """

    __slots__ = ("_actions", "_executions_of", "_ops", "identity", "max_concurrent")

    def __init__(
        self,
        identity: str,
        *,
        actions: Iterable[str] | None = None,
        ops: Iterable[str] | None = None,
        executions_of: Iterable[str] | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        self.identity = identity
        self._actions = None if actions is None else frozenset(actions)
        self._ops = None if ops is None else tuple(ops)
        self._executions_of = (
            None if executions_of is None else frozenset((*executions_of, identity))
        )
        self.max_concurrent = max_concurrent

    def __repr__(self) -> str:
        return f"Access({self.identity!r})"

    @property
    def unrestricted(self) -> bool:
        """Whether this access allows everything (no identity's rules apply)."""
        return self is UNRESTRICTED

    # -- actions ------------------------------------------------------------------------

    def allows(self, action: str) -> bool:
        return self._actions is None or action in self._actions

    def check(self, action: str, method: str | None = None) -> None:
        """Raise ``PERMISSION_DENIED`` unless ``action`` is allowed."""
        if not self.allows(action):
            raise _status.permission_denied(self.identity, action, method=method)

    # -- ops ----------------------------------------------------------------------------

    def sees_op(self, name: str) -> bool:
        """Whether op ``name`` is on this identity's allow-list."""
        patterns = self._ops
        return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)

    def visible_ops(self, names: Iterable[str]) -> list[str]:
        """The names among ``names`` this identity may see, in their order."""
        if self._ops is None:
            return list(names)
        return [name for name in names if self.sees_op(name)]

    def check_op(self, action: str, name: str) -> None:
        """Raise ``PERMISSION_DENIED`` unless ``action`` on op ``name`` is allowed.

        Checked before the op is looked up, so that a refusal says nothing of whether
        an op outside the allow-list exists.
        """
        self.check(action)
        if not self.sees_op(name):
            raise _status.permission_denied(self.identity, action, op=name)

    # -- executions ---------------------------------------------------------------------

    def sees_execution(self, principal: str, op_name: str) -> bool:
        """Whether an execution ``principal`` started, of op ``op_name``, is readable."""
        owners = self._executions_of
        return (owners is None or principal in owners) and self.sees_op(op_name)

    def check_execution(self, action: str, execution_id: str, principal: str, op: str) -> None:
        """Raise ``PERMISSION_DENIED`` unless ``action`` on this execution is allowed."""
        self.check(action)
        if not self.sees_execution(principal, op):
            raise _status.permission_denied(self.identity, action, execution_id=execution_id)

    def listing_scope(
        self, hosted_ops: Iterable[str]
    ) -> tuple[frozenset[str] | None, frozenset[str] | None]:
        """The principals and op names a listing of executions is limited to.

        ``None`` means no limit. An allow-list of ops limits the listing to the ops
        this server hosts that it matches.
        """
        ops = None if self._ops is None else frozenset(self.visible_ops(hosted_ops))
        return self._executions_of, ops


UNRESTRICTED = Access("")

_current: contextvars.ContextVar[Access] = contextvars.ContextVar(
    "ophost_access", default=UNRESTRICTED
)


def current() -> Access:
    """The access of the call being served (:data:`UNRESTRICTED` outside one)."""
    return _current.get()


def bind(access: Access) -> None:
    """Make ``access`` the :func:`current` one for the rest of the call being served.

    ``grpc.aio`` serves every call in a task of its own, and a task runs in a copy of
    the context it was made in: what is bound here ends with the call, and reaches
    the tasks the call makes (the reader of an ``Execute`` stream).
    """
    _current.set(access)
