"""``python -m embedlab export|import``: a comparison as one file, opened by another EmbedLab."""

from __future__ import annotations

import sys


def add_commands(sub) -> None:
    ex = sub.add_parser("export", help="write a comparison (dataset, vectors, maps, card) as one bundle file")
    ex.add_argument("--comparison", required=True, help="comparison id (the c= of its link)")
    ex.add_argument("--out", required=True, help="bundle file to write (.zip)")
    ex.add_argument("--workspace", help="default $EMBEDLAB_WORKSPACE or ./.embedlab")
    ex.set_defaults(func=cmd_export)
    im = sub.add_parser("import", help="open a bundle in this workspace (embeds nothing)")
    im.add_argument("bundle", help="bundle file written by export")
    im.add_argument("--workspace", help="default $EMBEDLAB_WORKSPACE or ./.embedlab")
    im.set_defaults(func=cmd_import)


def cmd_export(args) -> int:
    from ..bundle import export
    from ..workspace import Workspace

    head = export(Workspace(args.workspace), args.comparison, args.out)
    print(f"{args.out}: comparison {head['comparison_id']}, {len(head['files'])} files, "
          f"{len(head['collections'])} vector collections", file=sys.stderr)
    return 0


def cmd_import(args) -> int:
    from pathlib import Path

    from ..bundle import import_bundle
    from ..workspace import Workspace

    if not Path(args.bundle).is_file():
        raise FileNotFoundError(f"no bundle file at {args.bundle}")
    comp = import_bundle(Workspace(args.workspace), Path(args.bundle))
    print(comp.id)
    print(f"opened comparison {comp.id} ({comp.name}): open it with ?c={comp.id}", file=sys.stderr)
    return 0
