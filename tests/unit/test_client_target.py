"""How a client's target becomes its channel's target (no sockets: look-ups are faked)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from ophost_client._target import (
    ROUND_ROBIN_OPTIONS,
    ChannelTarget,
    channel_target,
    target_label,
)

# What the fake resolver knows: name -> its addresses.
NAMES = {
    "both.test": ["10.0.0.1", "fd00::1"],
    "v4.test": ["10.0.0.2", "10.0.0.3"],
    "v6.test": ["fd00::2"],
}


@pytest.fixture(autouse=True)
def fake_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in NAMES:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in ip else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (ip, port, 0, 0) if ":" in ip else (ip, port),
            )
            for ip in NAMES[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "target",
    [
        "localhost:50051",
        "both.test:50051",
        "[::1]:50051",
        "ipv4:127.0.0.1:1",
        "unix:/tmp/ophost.sock",
        "passthrough:///example:1",
        ["example.com:443"],
        [" example.com:443 "],
    ],
)
def test_one_address_is_used_as_given(target: str | list[str]) -> None:
    expected = target if isinstance(target, str) else target[0].strip()
    assert channel_target(target) == ChannelTarget(expected, balanced=False)
    assert channel_target(target).options == ()


@pytest.mark.parametrize(
    ("target", "uri"),
    [
        ("127.0.0.1:1,127.0.0.2:2", "ipv4:127.0.0.1:1,127.0.0.2:2"),
        ("127.0.0.1:1, 127.0.0.2:2", "ipv4:127.0.0.1:1,127.0.0.2:2"),
        (["127.0.0.1:1", "127.0.0.2:2"], "ipv4:127.0.0.1:1,127.0.0.2:2"),
        (("[::1]:1", "[fd00::9]:2"), "ipv6:[::1]:1,[fd00::9]:2"),
        # Names are looked up; IPv4 wins when every address has it.
        ("both.test:1,v4.test:2", "ipv4:10.0.0.1:1,10.0.0.2:2,10.0.0.3:2"),
        ("both.test:1,v6.test:2", "ipv6:[fd00::1]:1,[fd00::2]:2"),
        ("both.test:1,127.0.0.1:2", "ipv4:10.0.0.1:1,127.0.0.1:2"),
        # The same address twice is one backend.
        ("127.0.0.1:1,127.0.0.1:1,127.0.0.1:2", "ipv4:127.0.0.1:1,127.0.0.1:2"),
    ],
)
def test_several_addresses_become_one_balanced_target(
    target: str | list[str] | tuple[str, ...], uri: str
) -> None:
    assert channel_target(target) == ChannelTarget(uri, balanced=True)


@pytest.mark.parametrize(
    ("target", "balanced"),
    [
        ("dns:///ops.example.com:50051", True),
        ("DNS:///ops.example.com:50051", True),
        ("ipv4:10.0.0.1:1,10.0.0.2:1", True),
        ("ipv6:[::1]:1,[::1]:2", True),
        ("unix:/tmp/a.sock,/tmp/b.sock", True),
        ("ipv4:10.0.0.1:1", False),
        ("xds:///ops", False),
    ],
)
def test_target_uris_are_used_as_given(target: str, balanced: bool) -> None:
    assert channel_target(target) == ChannelTarget(target, balanced=balanced)


def test_round_robin_is_a_default_service_config() -> None:
    [(name, value)] = ROUND_ROBIN_OPTIONS
    assert name == "grpc.service_config"
    assert json.loads(value) == {"loadBalancingConfig": [{"round_robin": {}}]}
    assert channel_target("10.0.0.1:1,10.0.0.2:1").options == ROUND_ROBIN_OPTIONS


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "empty"),
        ("  ", "empty"),
        ((), "no address"),
        ("10.0.0.1:1,", "must be host:port"),
        ("10.0.0.1:1,host", "must be host:port"),
        ("10.0.0.1:1,host:0", "must be host:port"),
        ("10.0.0.1:1,host:65536", "must be host:port"),
        ("10.0.0.1:1,:5", "must be host:port"),
        ("10.0.0.1:1,dns:///a:1", "target URI"),
        ("nowhere.test:1,10.0.0.1:2", "cannot look up 'nowhere.test'"),
        ("v4.test:1,v6.test:2", "no IP version in common"),
    ],
)
def test_malformed_targets_raise_value_error(target: str | tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        channel_target(target)


@pytest.mark.parametrize("target", [b"10.0.0.1:1", [b"10.0.0.1:1", b"10.0.0.2:1"], 5])
def test_a_target_of_another_type_raises_type_error(target: Any) -> None:
    with pytest.raises(TypeError, match="str or a sequence of str"):
        channel_target(target)


def test_the_label_joins_a_list() -> None:
    assert target_label("a:1") == "a:1"
    assert target_label(["a:1", "b:2"]) == "a:1,b:2"
    assert target_label("dns:///a:1") == "dns:///a:1"
