"""Where a client connects: one address, several, or a gRPC target URI.

A replicated host is several ``ophost serve`` processes sharing one database; any of
them answers any call about any execution. A client of such a host spreads its calls
over the replicas with gRPC's ``round_robin`` load-balancing policy. This module turns
the ``target`` a client is made with into the channel target and the extra channel
options that do that:

* one address (``"host:port"``, no comma) and any target URI gRPC knows other than
  those below are used as given, with gRPC's default policy (``pick_first``): a
  client of one server behaves as it always has;
* several addresses (``"h1:p1,h2:p2"`` or a sequence of strings) become one
  ``ipv4:`` or ``ipv6:`` target listing them all. Names among them are looked up
  once, here, when the client is made;
* ``dns:///name:port`` (every address the name has) and ``ipv4:``/``ipv6:``/``unix:``
  URIs that list several addresses are used as given.

The last two get the ``round_robin`` policy through a default service config (a
service config from the resolver, if any, takes precedence, as in any gRPC client).
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

__all__ = ["ROUND_ROBIN_OPTIONS", "ChannelTarget", "Target", "channel_target", "target_label"]

# What ``target=`` takes: one string, or the addresses one by one.
Target: TypeAlias = "str | Sequence[str]"

# The channel option that balances calls over every address the resolver returns.
# Go's client sets the same default service config.
ROUND_ROBIN_OPTIONS: Final[tuple[tuple[str, str], ...]] = (
    ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
)

# A target URI starts with a scheme and a colon. "localhost:50051" would match too, so
# a scheme followed by nothing but a port (then a comma or the end) is an address.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", re.DOTALL)
_PORT_ONLY = re.compile(r"^\d+(,|$)")
# Schemes whose URIs may list several addresses, separated by commas.
_LIST_SCHEMES = frozenset({"ipv4", "ipv6", "unix", "unix-abstract", "vsock"})


@dataclass(frozen=True, slots=True)
class ChannelTarget:
    """The target of the channel a client makes, and whether it balances calls."""

    uri: str  # what grpc.aio.insecure_channel gets
    balanced: bool  # True: the channel needs ROUND_ROBIN_OPTIONS

    @property
    def options(self) -> tuple[tuple[str, str], ...]:
        """The channel options this target needs on top of the client's own."""
        return ROUND_ROBIN_OPTIONS if self.balanced else ()


def target_label(target: Target) -> str:
    """The target as the client shows it: a sequence of addresses joined by commas."""
    if isinstance(target, str):
        return target
    return ",".join(target)


def channel_target(target: Target) -> ChannelTarget:
    """The channel target for a client's ``target`` (see the module docstring).

    Raises ``ValueError`` for an empty target, a malformed address in a list, or a
    list whose addresses have no IP version in common (a channel's ``ipv4:`` and
    ``ipv6:`` targets cannot be mixed), and ``TypeError`` for a target that is
    neither a string nor a sequence of strings.
    """
    if isinstance(target, str):
        if not target.strip():
            raise ValueError("target is empty")
        scheme = _scheme(target)
        if scheme is not None:
            rest = target[len(scheme) + 1 :]
            return ChannelTarget(
                target, balanced=scheme == "dns" or (scheme in _LIST_SCHEMES and "," in rest)
            )
        if "," not in target:
            return ChannelTarget(target, balanced=False)
        addresses = [part.strip() for part in target.split(",")]
    elif isinstance(target, Sequence) and all(isinstance(a, str) for a in target):
        addresses = [a.strip() for a in target]
    else:
        raise TypeError(f"target must be a str or a sequence of str, got {target!r}")
    if not addresses:
        raise ValueError("target has no address")
    if len(addresses) == 1:
        return channel_target(addresses[0])  # one address: exactly as given alone
    return ChannelTarget(_address_list(addresses), balanced=True)


def _scheme(target: str) -> str | None:
    """The scheme of a target URI (lowercased), or None for a ``host:port`` address."""
    match = _SCHEME.match(target)
    if match is None or _PORT_ONLY.match(match.group(2)):
        return None
    return match.group(1).lower()


def _split(address: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` → host (without brackets) and port."""
    if _scheme(address) is not None:
        raise ValueError(
            f"a target URI cannot be one of several addresses, got {address!r} (give it alone)"
        )
    host, colon, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"each of several addresses must be host:port, got {address!r}")
    return host, int(port)


def _address_list(addresses: Sequence[str]) -> str:
    """One ``ipv4:`` or ``ipv6:`` target for several addresses, names looked up now.

    IPv4 is used when every address has an IPv4 form, else IPv6 when every one has
    an IPv6 form; a name contributes each address it has in that version.
    """
    forms = [_ip_forms(*_split(address)) for address in addresses]
    for version, scheme in ((4, "ipv4"), (6, "ipv6")):
        if all(form[version] for form in forms):
            listed = dict.fromkeys(
                _with_port(ip, port) for form in forms for ip, port in form[version]
            )
            return f"{scheme}:{','.join(listed)}"
    raise ValueError(
        f"the addresses {', '.join(addresses)} have no IP version in common (IPv4 or IPv6)"
    )


def _ip_forms(host: str, port: int) -> dict[int, list[tuple[str, int]]]:
    """The IPv4 and IPv6 addresses of ``host`` (an IP address is its own only form)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return {4: [(str(ip), port)], 6: []} if ip.version == 4 else {4: [], 6: [(str(ip), port)]}
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ValueError(f"cannot look up {host!r}: {exc.strerror}") from exc
    forms: dict[int, list[tuple[str, int]]] = {4: [], 6: []}
    for family, _, _, _, sockaddr in found:
        if family == socket.AF_INET:
            forms[4].append((str(sockaddr[0]), port))
        elif family == socket.AF_INET6:
            forms[6].append((str(sockaddr[0]), port))
    return forms


def _with_port(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
