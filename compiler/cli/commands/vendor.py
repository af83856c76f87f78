"""kgit vendor: download an upstream add-on manifest into vendor/ and pin it in kgit.lock."""

from __future__ import annotations

import argparse

from compiler.cli.commands.common import add_spec_option, locate_spec
from compiler.core import exitcodes
from compiler.repo.vendor import (
    ADDONS,
    DEFAULT_TIMEOUT,
    LOCK_FILE,
    VARIANTS,
    release,
    vendor_addon,
)

SOURCE_FIELDS = {
    "flannel": "spec.network.flannel.source",
    "ingress-nginx": "spec.ingress.nginx.source",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    parser.add_argument("addon", choices=ADDONS, help="the add-on to vendor")
    parser.add_argument("version", help="its release version, such as 0.28.9 or 1.15.1")
    parser.add_argument(
        "--variant",
        choices=VARIANTS,
        default=None,
        help="ingress-nginx only: the provider manifest (default: baremetal)",
    )
    parser.add_argument(
        "--url-base",
        default=None,
        metavar="URL",
        help="download from this base URL instead of the official one (a mirror)",
    )
    parser.add_argument(
        "--sha256",
        default=None,
        metavar="HEX",
        help="refuse the download unless its sha256 is this digest",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"network timeout (default: {DEFAULT_TIMEOUT:g})",
    )


def run(args: argparse.Namespace) -> int:
    where = locate_spec(args)
    target = release(args.addon, args.version, variant=args.variant, url_base=args.url_base)
    entry = vendor_addon(where.tree.root, target, expected_sha256=args.sha256, timeout=args.timeout)
    print(f"vendored {target.url} -> {target.path} (sha256 {entry.sha256})")
    print(
        f"recorded in {LOCK_FILE}; to use it, set {SOURCE_FIELDS[args.addon]}: {target.path} "
        "in the spec"
    )
    return exitcodes.SUCCESS
