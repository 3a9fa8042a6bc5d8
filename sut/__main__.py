"""``python -m sut``: run the reference 1177 system on 127.0.0.1 until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Coroutine
from typing import Any

from . import faults, persons
from .config import Settings
from .migrations import SchemaError
from .runtime import print_line, serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sut", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (loopback only by design)")
    parser.add_argument("--port", type=int, default=None, help="port of the web server (default: a free one)")
    parser.add_argument("--faults", default=None, help="comma-separated fault names to switch on")
    parser.add_argument("--list-faults", action="store_true", help="print the fault catalogue and exit")
    parser.add_argument("--list-persons", action="store_true",
                        help="print the seeded test persons and staff (a fresh start's) and exit")
    parser.add_argument("--json", action="store_true", help="with --list-persons: as JSON, for programs")
    parser.add_argument("--markdown", action="store_true", help="with --list-persons: the README's tables")
    parser.add_argument("--test-mode", action="store_true", default=None,
                        help="serve the /_sut control API (also SUT_TEST_MODE=1)")
    parser.add_argument("--database-url", default=None, help="SQLAlchemy URL (default: a fresh SQLite file)")
    parser.add_argument("--data-dir", default=None, help="folder for the database and keys (default: temporary)")
    parser.add_argument("--joined-regions", type=int, default=None, help="how many of the 21 regions joined")
    parser.add_argument("--push-workers", type=int, default=None,
                        help="concurrent push sender tasks (default 256; also SUT_PUSH_WORKERS)")
    parser.add_argument("--push-connections", type=int, default=None,
                        help="HTTP/2 connections per push provider (default 2)")
    parser.add_argument("--gateway-knobs", default=None,
                        help='fault knobs of the fake gateways at start, JSON: {"apns": {"latency_ms": 20}, ...}')
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def _run(main: Coroutine[Any, Any, None]) -> None:
    """uvloop where it is built (the push fan-out's throughput depends on it), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_faults:
        for fault in faults.CATALOGUE.values():
            print(f"{fault.name:32} {fault.component:6} {', '.join(fault.breaks):28} {fault.description}")
        return 0
    if args.list_persons:
        try:
            settings = Settings.from_env(joined_regions=args.joined_regions)
        except ValueError as exc:
            print(f"python -m sut: {exc}", file=sys.stderr)
            return 2
        persons.print_listing(persons.fresh_listing(settings), as_json=args.json, as_markdown=args.markdown)
        return 0
    if args.host not in {"127.0.0.1", "localhost", "::1"}:
        print("python -m sut: binds loopback addresses only (127.0.0.1, localhost, ::1)", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings.from_env(host=args.host, port=args.port,
                                     faults=faults.parse(args.faults) if args.faults is not None else None,
                                     test_mode=args.test_mode, database_url=args.database_url,
                                     data_dir=args.data_dir, joined_regions=args.joined_regions,
                                     push_workers=args.push_workers, push_connections=args.push_connections,
                                     gateway_knobs=args.gateway_knobs)
    except (faults.UnknownFaultError, ValueError) as exc:
        print(f"python -m sut: {exc}", file=sys.stderr)
        return 2
    try:
        _run(serve(settings, announce=print_line))
    except (OSError, SchemaError) as exc:
        print(f"python -m sut: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
