"""``ophost token``: make a new token, and hash one for a token file.

``ophost token new --name ci`` prints a new random token (256 bits, URL-safe) and the
token-file entry of an identity that uses it: the entry holds only the token's
SHA-256, so the file can be read by more people than the token. ``ophost token hash``
reads a token from standard input (or ``$OPHOST_TOKEN``) and prints its
``token_hash`` value. Neither command stores anything.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from typing import Any

__all__ = ["add_token_commands"]

# Bytes of randomness in a new token (256 bits).
_TOKEN_BYTES = 32


def add_token_commands(subparsers: Any) -> None:
    """Register ``token new`` and ``token hash`` on the ``ophost`` argument parser."""
    token = subparsers.add_parser(
        "token",
        help="make a new token, or hash one, for a token file",
        description="Make tokens for `ophost serve --token-file` (docs/security.md).",
    )
    commands = token.add_subparsers(title="commands", metavar="COMMAND", required=True)
    new = commands.add_parser(
        "new",
        help="print a new random token and its token-file entry",
        description="Print a new random token (give it to the caller, for example as "
        "OPHOST_TOKEN) and the token-file entry of an identity that uses it.",
    )
    new.add_argument(
        "--name", default="NAME", metavar="IDENTITY", help="the identity's name in the entry"
    )
    new.set_defaults(handler=_new)
    hashed = commands.add_parser(
        "hash",
        help="print the token_hash of a token read from standard input",
        description="Read a token from standard input (or $OPHOST_TOKEN when standard input "
        "is a terminal) and print the token_hash value of a token file.",
    )
    hashed.set_defaults(handler=_hash)


def _new(args: argparse.Namespace) -> int:
    from ophost.server._token_file import hash_token

    token = secrets.token_urlsafe(_TOKEN_BYTES)
    while token.startswith("-"):  # it would read as an option after --token
        token = secrets.token_urlsafe(_TOKEN_BYTES)
    print("# The token: give it to the caller (ophost ... --token, or OPHOST_TOKEN).")
    print("# It is not kept anywhere: the token file holds only its hash.")
    print(f"OPHOST_TOKEN={token}")
    print()
    print("# The identity, for the token file:")
    print(f"[identities.{args.name}]")
    print(f'token_hash = "{hash_token(token)}"')
    print('ops = ["*"]')
    print('actions = ["list", "run", "read", "cancel"]')
    return 0


def _hash(args: argparse.Namespace) -> int:
    from ophost.server._token_file import hash_token

    if sys.stdin.isatty() and os.environ.get("OPHOST_TOKEN"):
        token = os.environ["OPHOST_TOKEN"]
    else:
        token = sys.stdin.readline().strip()
    if not token:
        print("ophost token hash: no token on standard input", file=sys.stderr)
        return 2
    print(hash_token(token))
    return 0
