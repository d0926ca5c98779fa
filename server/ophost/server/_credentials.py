"""Who a call is, from its credentials: the same for every door.

:func:`admit` finds the caller's identity in an
:class:`~ophost.server._token_file.AccessPolicy` (a token file) from what the call
carries, whichever protocol carried it: the values of its ``authorization`` headers
(``Bearer <token>``) and the subject of the client certificate that mTLS verified, if
any. An identity with both a token and a subject needs both. No credentials, or
credentials that name no identity: ``UNAUTHENTICATED``. It then checks that the
identity has the action the method needs: ``PERMISSION_DENIED`` otherwise. The gRPC
access interceptor (:mod:`ophost.server._auth`) and the browser door
(:mod:`ophost.server._http`) both call it, and bind the
:class:`~ophost.server._access.Access` it returns for the handlers' own checks.
"""

from __future__ import annotations

from collections.abc import Sequence

from ophost.server import _status
from ophost.server._access import Access
from ophost.server._token_file import AccessPolicy, Identity

__all__ = ["AUTHORIZATION_HEADER", "admit", "authenticate"]

AUTHORIZATION_HEADER = "authorization"
_BEARER = "bearer"


def admit(
    policy: AccessPolicy,
    method: str,
    action: str | None,
    authorization: Sequence[str | bytes],
    subject: str | None,
) -> Access:
    """The access of a caller of ``method``, which needs ``action`` (None: an identity only).

    ``authorization``: the values of the call's ``authorization`` headers; ``subject``:
    the subject of its verified client certificate (None without one). Raises
    :class:`~ophost.server._status.StatusError` when the call is refused.
    """
    identity = authenticate(policy, authorization, subject)
    if action is not None:
        identity.access.check(action, method)
    return identity.access


def authenticate(
    policy: AccessPolicy, authorization: Sequence[str | bytes], subject: str | None
) -> Identity:
    """The identity the credentials name (see :func:`admit`)."""
    if len(authorization) > 1:
        raise _status.unauthenticated("the call has more than one authorization header")
    if authorization:
        token = _bearer_token(authorization[0])
        identity = policy.by_token(token)
        if identity is None:
            raise _status.unauthenticated("the bearer token matches no identity")
        wanted = identity.client_cert_subject
        if wanted is not None and subject != wanted:
            raise _status.unauthenticated(
                f"identity {identity.name!r} needs its client certificate as well as its token"
            )
        return identity
    if subject is not None:
        identity = policy.by_subject(subject)
        if identity is not None:
            return identity
        raise _status.unauthenticated(
            f"the client certificate subject {subject!r} names no identity that needs no "
            "token; send authorization: Bearer <token>"
        )
    raise _status.unauthenticated(
        "the call has no credentials: send the header authorization: Bearer <token>"
        + (" or a client certificate" if policy.needs_client_certificates else "")
    )


def _bearer_token(value: str | bytes) -> str:
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    scheme, _, token = text.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != _BEARER or not token:
        raise _status.unauthenticated(
            "the authorization header must be 'Bearer <token>' (the scheme Bearer, a "
            "space, then the token)"
        )
    return token
