"""kgit vendor: download an upstream manifest into vendor/ and pin it in kgit.lock.

``kgit vendor ADDON VERSION`` takes an add-on kgit knows (its official release URL);
``kgit vendor url URL --sha256 HEX [--path PATH]`` takes any manifest, for ``spec.addons``.
"""

from __future__ import annotations

import argparse

from compiler.cli.commands.common import add_spec_option, locate_spec
from compiler.compile.lockfile import LOCK_FILE, URL_ADDON
from compiler.core import exitcodes
from compiler.core.errors import KgitError
from compiler.repo.vendor import (
    ADDONS,
    DEFAULT_TIMEOUT,
    VARIANTS,
    release,
    url_release,
    vendor_addon,
)

SOURCE_FIELDS = {
    "flannel": "spec.network.flannel.source",
    "ingress-nginx": "spec.ingress.nginx.source",
    "nginx-gateway-fabric": "spec.ingress.gateway.source",
    URL_ADDON: "spec.addons[].source",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_spec_option(parser)
    parser.add_argument(
        "addon",
        choices=(*ADDONS, URL_ADDON),
        help="the add-on to vendor, or `url` for any manifest (for spec.addons)",
    )
    parser.add_argument(
        "version",
        help="its release version, such as 0.28.9 or 1.15.1; with `url`, the HTTPS URL",
    )
    parser.add_argument(
        "--variant",
        choices=VARIANTS,
        default=None,
        help="ingress-nginx: baremetal (default) or cloud; "
        "nginx-gateway-fabric: default (default) or nodeport",
    )
    parser.add_argument(
        "--path",
        default=None,
        metavar="PATH",
        help="with `url`: where to write the file (default: vendor/ and the URL's file name)",
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
        help="refuse the download unless its sha256 is this digest (required with `url`)",
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
    if args.addon == URL_ADDON:
        if args.variant is not None or args.url_base is not None:
            raise KgitError("--variant and --url-base do not apply to `kgit vendor url`")
        target = url_release(args.version, args.path)
    else:
        if args.path is not None:
            raise KgitError("--path applies to `kgit vendor url` only")
        target = release(args.addon, args.version, variant=args.variant, url_base=args.url_base)
    entry = vendor_addon(where.tree.root, target, expected_sha256=args.sha256, timeout=args.timeout)
    print(f"vendored {target.url} -> {target.path} (sha256 {entry.sha256})")
    print(
        f"recorded in {LOCK_FILE}; to use it, set {SOURCE_FIELDS[args.addon]}: {target.path} "
        "in the spec"
    )
    return exitcodes.SUCCESS
