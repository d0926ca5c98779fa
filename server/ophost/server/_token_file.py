"""The token file: named identities, how each proves who it is, and what it may do.

``ophost serve --token-file FILE`` reads a TOML file (or YAML, ``.yaml``/``.yml``, when
PyYAML is installed)::

    # "open" (the default): health checks need no credentials, for load balancers.
    # "authenticated": they need them like every other call.
    health = "open"

    [identities.ci]
    # The SHA-256 of the token, never the token (`ophost token new` makes both).
    token_hash = "sha256:4f0c...e1"
    ops = ["etl_*", "report"]          # op-name globs: * and ?, case-sensitive
    actions = ["list", "run", "read", "cancel"]
    max_concurrent_executions = 4      # optional: at once, on each server process
    executions_of = ["nightly"]        # optional: whose executions it may also
                                       # read and cancel; ["*"]: everyone's

    [identities.dashboard]
    # A client certificate (mTLS) whose subject is exactly this; with a token_hash
    # too, a call must carry both.
    client_cert_subject = "CN=dashboard,O=Example"
    ops = ["*"]
    actions = ["list", "read"]
    executions_of = ["*"]

:func:`load_token_file` reads and checks it whole, and raises :class:`TokenFileError`
naming the file, the line (where it can tell), the identity and the key at fault. It
never quotes a token hash. :class:`AccessPolicy` is the
result: :meth:`AccessPolicy.by_token` finds the identity of a token by comparing the
token's digest with every identity's, in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ophost.errors import OpHostError
from ophost.server._access import ACTIONS, Access

__all__ = [
    "HEALTH_AUTHENTICATED",
    "HEALTH_OPEN",
    "TOKEN_HASH_PREFIX",
    "AccessPolicy",
    "Identity",
    "TokenFileError",
    "hash_token",
    "load_token_file",
    "parse_token_file",
]

TOKEN_HASH_PREFIX = "sha256:"
HEALTH_OPEN = "open"
HEALTH_AUTHENTICATED = "authenticated"

_TOP_KEYS = frozenset({"health", "identities"})
_IDENTITY_KEYS = frozenset(
    {
        "token_hash",
        "client_cert_subject",
        "ops",
        "actions",
        "executions_of",
        "max_concurrent_executions",
    }
)
_IDENTITY_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,128}$")
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# What an op-name glob may hold: the characters of op names, and the wildcards * and ?.
_OP_GLOB = re.compile(r"^[A-Za-z0-9_*?]+$")


class TokenFileError(OpHostError):
    """The token file cannot be read or is not valid; the message says where and why."""


def hash_token(token: str) -> str:
    """How a token is written in a token file: ``sha256:`` and its hex SHA-256."""
    return TOKEN_HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Identity:
    """One identity of the token file: how it authenticates, and its :class:`Access`."""

    name: str
    token_digest: bytes | None
    client_cert_subject: str | None
    access: Access


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The identities of a token file, and whether health checks are open."""

    identities: tuple[Identity, ...]
    open_health: bool = True

    @property
    def needs_client_certificates(self) -> bool:
        """Whether some identity authenticates by client certificate (needs mTLS)."""
        return any(i.client_cert_subject is not None for i in self.identities)

    def by_token(self, token: str) -> Identity | None:
        """The identity whose token this is, or None.

        The token's digest is compared with every identity's, each in constant time
        and without stopping at a match, so the time taken says nothing of which
        identity, if any, matched.
        """
        digest = hashlib.sha256(token.encode()).digest()
        found: Identity | None = None
        for identity in self.identities:
            if identity.token_digest is not None and hmac.compare_digest(
                identity.token_digest, digest
            ):
                found = identity
        return found

    def by_subject(self, subject: str) -> Identity | None:
        """The identity that authenticates by this client certificate subject alone."""
        for identity in self.identities:
            if identity.token_digest is None and identity.client_cert_subject == subject:
                return identity
        return None


def load_token_file(path: str | Path) -> AccessPolicy:
    """Read and check a token file (TOML, or YAML by its suffix); see the module doc."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise TokenFileError(f"cannot read the token file {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"the token file {file} is not UTF-8 text") from None
    return parse_token_file(text, source=str(file), yaml=file.suffix.lower() in {".yaml", ".yml"})


def parse_token_file(
    text: str, *, source: str = "<token file>", yaml: bool = False
) -> AccessPolicy:
    """Check the text of a token file; ``source`` names it in error messages."""
    data = _load_yaml(text, source) if yaml else _load_toml(text, source)
    where = _Locator(text, source, yaml=yaml)
    if not isinstance(data, Mapping):
        raise TokenFileError(f"{source}: expected a table of settings at the top")
    for key in data:
        if key not in _TOP_KEYS:
            raise where.error(
                f"unknown setting {key!r} (expected: {', '.join(sorted(_TOP_KEYS))})", key=key
            )
    health = data.get("health", HEALTH_OPEN)
    if health not in (HEALTH_OPEN, HEALTH_AUTHENTICATED):
        raise where.error(
            f'health must be "{HEALTH_OPEN}" or "{HEALTH_AUTHENTICATED}"', key="health"
        )
    table = data.get("identities", {})
    if not isinstance(table, Mapping):
        raise where.error("identities must be a table of identities by name", key="identities")
    names = [str(name) for name in table]
    identities = [_identity(str(name), fields, names, where) for name, fields in table.items()]
    _check_unique(identities, where)
    return AccessPolicy(identities=tuple(identities), open_health=health == HEALTH_OPEN)


def _identity(name: str, fields: object, names: Sequence[str], where: _Locator) -> Identity:
    if not _IDENTITY_NAME.match(name):
        raise where.error(
            f"identity {name[:40]!r}: a name is 1 to 128 letters, digits or . _ @ + -",
            identity=name,
        )
    if not isinstance(fields, Mapping):
        raise where.error(f"identity {name!r} must be a table of settings", identity=name)
    for key in fields:
        if key == "token":
            raise where.error(
                f"identity {name!r}: tokens are not written in the token file, only their "
                f'hash: token_hash = "sha256:..." (`ophost token hash` prints it)',
                identity=name,
                key=key,
            )
        if key not in _IDENTITY_KEYS:
            raise where.error(
                f"identity {name!r}: unknown setting {str(key)[:40]!r} "
                f"(expected: {', '.join(sorted(_IDENTITY_KEYS))})",
                identity=name,
                key=str(key),
            )

    def fail(key: str, problem: str) -> TokenFileError:
        return where.error(f"identity {name!r}: {key} {problem}", identity=name, key=key)

    digest: bytes | None = None
    token_hash = fields.get("token_hash")
    if token_hash is not None:
        if not isinstance(token_hash, str) or not token_hash.startswith(TOKEN_HASH_PREFIX):
            raise fail("token_hash", 'must be "sha256:" followed by 64 hex digits')
        hex_digest = token_hash[len(TOKEN_HASH_PREFIX) :].lower()
        if not _HEX_DIGEST.match(hex_digest):
            raise fail("token_hash", 'must be "sha256:" followed by 64 hex digits')
        digest = bytes.fromhex(hex_digest)
    subject = fields.get("client_cert_subject")
    if subject is not None and (not isinstance(subject, str) or not subject.strip()):
        raise fail("client_cert_subject", 'must be a certificate subject such as "CN=ci,O=Example"')
    if digest is None and subject is None:
        raise where.error(
            f"identity {name!r} has no way to authenticate: give it a token_hash, a "
            "client_cert_subject, or both",
            identity=name,
        )
    ops = _strings(fields, "ops", fail, required=True)
    for pattern in ops:
        if not _OP_GLOB.match(pattern):
            raise fail(
                "ops",
                f"has {pattern[:40]!r}, which can match no op name (op names are letters, "
                "digits and _; the wildcards are * and ?)",
            )
    actions = _strings(fields, "actions", fail, required=True)
    for action in actions:
        if action not in ACTIONS:
            raise fail("actions", f"has {action[:40]!r}; the actions are {', '.join(ACTIONS)}")
    owners = _strings(fields, "executions_of", fail, required=False)
    for owner in owners:
        if owner != "*" and owner not in names:
            raise fail("executions_of", f"names {owner[:40]!r}, which is not an identity here")
    limit = fields.get("max_concurrent_executions")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise fail("max_concurrent_executions", "must be a whole number, 1 or more")
    access = Access(
        name,
        actions=actions,
        ops=None if "*" in ops else ops,
        executions_of=None if "*" in owners else owners,
        max_concurrent=limit,
    )
    return Identity(name=name, token_digest=digest, client_cert_subject=subject, access=access)


def _strings(fields: Mapping[str, Any], key: str, fail: Any, *, required: bool) -> list[str]:
    value = fields.get(key)
    if value is None:
        if required:
            raise fail(key, 'is missing (a list of strings, such as ["*"])')
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise fail(key, "must be a list of strings")
    return list(value)


def _check_unique(identities: Sequence[Identity], where: _Locator) -> None:
    digests: dict[bytes, str] = {}
    subjects: dict[str, str] = {}
    for identity in identities:
        if identity.token_digest is not None:
            other = digests.setdefault(identity.token_digest, identity.name)
            if other != identity.name:
                raise where.error(
                    f"identities {other!r} and {identity.name!r} have the same token_hash",
                    identity=identity.name,
                    key="token_hash",
                )
        elif identity.client_cert_subject is not None:
            other = subjects.setdefault(identity.client_cert_subject, identity.name)
            if other != identity.name:
                raise where.error(
                    f"identities {other!r} and {identity.name!r} authenticate by the same "
                    "client_cert_subject alone",
                    identity=identity.name,
                    key="client_cert_subject",
                )


# -- reading the file ----------------------------------------------------------------------


def _load_toml(text: str, source: str) -> Any:
    # tomllib is in the standard library from Python 3.11; on 3.10 the same parser is
    # the tomli package, used when it is installed.
    try:
        toml: Any = importlib.import_module("tomllib")
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        try:
            toml = importlib.import_module("tomli")
        except ModuleNotFoundError:
            raise TokenFileError(
                f"{source}: reading TOML on Python 3.10 needs the tomli package (pip install "
                "tomli); or use Python 3.11 or later, or a YAML token file"
            ) from None
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as exc:
        raise TokenFileError(f"{source}: not valid TOML: {exc}") from None


def _load_yaml(text: str, source: str) -> Any:
    try:
        yaml: Any = importlib.import_module("yaml")
    except ModuleNotFoundError:
        raise TokenFileError(
            f"{source}: YAML token files need PyYAML (pip install pyyaml); or write it in TOML"
        ) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TokenFileError(f"{source}: not valid YAML: {exc}") from None


class _Locator:
    """Finds the line of an identity's table, or of a key in it, in a TOML file's text."""

    _HEADER = re.compile(r"^\s*\[([^\[\]]+)\]\s*(?:#.*)?$")

    def __init__(self, text: str, source: str, *, yaml: bool) -> None:
        self._lines = [] if yaml else text.splitlines()
        self._source = source

    def error(
        self, message: str, *, identity: str | None = None, key: str | None = None
    ) -> TokenFileError:
        line = self._line(identity, key)
        where = f"{self._source}:{line}" if line else self._source
        return TokenFileError(f"{where}: {message}")

    def _line(self, identity: str | None, key: str | None) -> int | None:
        wanted = None if identity is None else f"identities.{identity}"
        table: str | None = None
        found: int | None = None
        for number, line in enumerate(self._lines, start=1):
            header = self._HEADER.match(line)
            if header is not None:
                table = re.sub(r"[\s\"']", "", header.group(1))
                if table == wanted and found is None:
                    found = number
                    if key is None:
                        return number
                continue
            if key is not None and table == wanted and re.match(rf"^\s*{re.escape(key)}\s*=", line):
                return number
        return found
