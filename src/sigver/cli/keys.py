"""``sigver keys``: API keys of ``sigver serve`` (create, list, revoke)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sigver.cli.common import HelpFormatter
from sigver.cli.flags import as_flags


def build_parser() -> argparse.ArgumentParser:
    """Flags of ``sigver keys``."""
    parser = argparse.ArgumentParser(
        prog="sigver keys",
        description="Manage the API keys of 'sigver serve'. A key is printed once, when "
                    "created; the database keeps only its SHA-256.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print it once",
                                formatter_class=HelpFormatter)
    create.add_argument("--db", required=True, help="enrollment database (SQLite)")
    create.add_argument("--role", required=True, choices=("verify", "admin"),
                        help="verify: list and verify; admin: also enroll and delete")
    create.add_argument("--name", default="", help="a note saying whose key it is")
    listing = actions.add_parser("list", help="list the keys (never the secrets)")
    listing.add_argument("--db", required=True, help="enrollment database (SQLite)")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("--db", required=True, help="enrollment database (SQLite)")
    revoke.add_argument("id", type=int, help="the key's id (see 'sigver keys list')")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sigver keys``."""
    from sigver.cli.serve import require_serve_extra

    parser = build_parser()
    args = parser.parse_args(argv)
    require_serve_extra()
    from sigver.serve import keys

    with as_flags(parser):
        if args.action == "create":
            key_id, token = keys.create_key(args.db, args.role, args.name)
            print(f"key {key_id} ({args.role}) created; it is shown only now:")
            print(token)
        elif args.action == "list":
            for info in keys.list_keys(args.db):
                state = "revoked" if info.revoked else "active"
                print(f"{info.id}\t{info.role}\t{state}\t{info.created_at}\t{info.name}")
        else:
            keys.revoke_key(args.db, args.id)
            print(f"key {args.id} revoked")
    return 0
