"""Command line: python -m xraygan {data,gan,review,study} ... (argparse lives here only)."""

from __future__ import annotations

import argparse
import json
import sys


def _data_describe(a: argparse.Namespace) -> int:
    from xraygan.data import describe

    print(json.dumps(describe(a.root, a.cache_dir, a.size), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xraygan", description="GAN augmentation for chest X-ray classification.")
    sub = p.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="inspect data sources").add_subparsers(dest="action", required=True)
    d = data.add_parser("describe", help="print image/patient counts and skipped files as JSON")
    d.add_argument("--root", required=True, help="folder in the Kaggle layout (train|test/NORMAL|PNEUMONIA)")
    d.add_argument("--size", type=int, default=64, help="decode size in px (cached)")
    d.add_argument("--cache-dir", default=None, help="cache folder (default XRAYGAN_CACHE or ~/.cache/xraygan)")
    d.set_defaults(func=_data_describe)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        print(f"xraygan: error: {e}", file=sys.stderr)
        return 2
