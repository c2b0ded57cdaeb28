"""``python -m embedlab …``: the dashboard's job, headless. One module per command group:
``evaluate`` (evaluate, models), ``probes`` (probe …), ``fit`` (fit, sweep), ``bundle`` (export,
import)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from . import bundle, evaluate, fit, probes


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)  # our own message says it better
    args = _parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("\ninterrupted — run the same command again to resume; nothing stored is lost", file=sys.stderr)
        return 130
    except Exception as e:  # one clear line, not a traceback, for errors a user can act on
        from ..comparison import ComparisonNotFound, ManifestCorrupt
        from ..embedders import EmbedderError, UnknownEmbedderError
        from ..store import StoreError

        if isinstance(e, (EmbedderError, UnknownEmbedderError, StoreError, ComparisonNotFound,
                          ManifestCorrupt, FileNotFoundError, ValueError)):
            print(f"error: {e}", file=sys.stderr)
            return 2
        raise


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m embedlab", description=__doc__)
    sub = p.add_subparsers(required=True)
    evaluate.add_commands(sub)
    probes.add_commands(sub)
    fit.add_commands(sub)
    bundle.add_commands(sub)
    return p
