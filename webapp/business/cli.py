"""``webapp apikey create NAME [--system SYSTEM] | list | revoke NAME_OR_PREFIX``: keys of the registration
systems.

The key is printed once, at creation; only its keyed hash is stored. A key sees the filings of its
system only (by default the system of its own name); to rotate a key, create the new one with
``--system`` set to the old one's system, then revoke the old one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from webapp.clock import SHANGHAI

if TYPE_CHECKING:
    from webapp.runtime import Runtime

    Command = Callable[[Runtime, argparse.Namespace], Coroutine[Any, Any, int]]


def _when(moment: datetime | None) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if moment else "-"


async def apikey_create(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.audit import Origin
    from webapp.business.apikeys import ApiKeyError, create_api_key

    try:
        info, key = await create_api_key(rt, args.name, Origin.command_line(), system=args.system)
    except ApiKeyError as error:
        print(f"apikey: {error}", file=sys.stderr)
        return 1
    print(f"API key {info.name!r} (system {info.system!r}) created. It is shown only once; store it now:")
    print(key)
    return 0


async def apikey_list(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.business.apikeys import list_api_keys

    keys = await list_api_keys()
    if not keys:
        print("no API keys")
        return 0
    print(f"{'name':<24} {'system':<24} {'key':<16} {'created':<17} {'last used':<17} status")
    for key in keys:
        status = f"revoked {_when(key.revoked_at)}" if key.revoked_at else "active"
        print(
            f"{key.name:<24} {key.system:<24} {key.display:<16} {_when(key.created_at):<17} "
            f"{_when(key.last_used_at):<17} {status}"
        )
    return 0


async def apikey_revoke(rt: Runtime, args: argparse.Namespace) -> int:
    from webapp.audit import Origin
    from webapp.business.apikeys import ApiKeyError, revoke_api_key

    try:
        info = await revoke_api_key(rt, args.key, Origin.command_line())
    except ApiKeyError as error:
        print(f"apikey: {error}", file=sys.stderr)
        return 1
    print(f"API key {info.name!r} ({info.display}) revoked")
    return 0


def add_business_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
    with_runtime: Callable[[Command], Callable[[argparse.Namespace], int]],
) -> None:
    apikey = commands.add_parser("apikey", help="API keys of the registration system").add_subparsers(
        dest="action", required=True
    )
    p = apikey.add_parser("create", help="create a key and print it once")
    p.add_argument("name", help="a name for the key's holder: letters, digits, '.', '-', '_'")
    p.add_argument(
        "--system",
        help="the registration system whose filings the key sees (default: NAME); give an existing key's "
        "system to rotate that key",
    )
    p.set_defaults(handler=with_runtime(apikey_create))
    apikey.add_parser("list", help="list keys (never the keys themselves)").set_defaults(
        handler=with_runtime(apikey_list)
    )
    p = apikey.add_parser("revoke", help="revoke a key by name or prefix")
    p.add_argument("key", metavar="NAME_OR_PREFIX")
    p.set_defaults(handler=with_runtime(apikey_revoke))
