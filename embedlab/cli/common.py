"""What every ``python -m embedlab`` command shares: the bundled sample, the default models, progress."""

from __future__ import annotations

import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent.parent / "sample_data" / "scifact-mini"
DEFAULT_MODELS = "minilm,bm25,model2vec"


def stderr_progress():
    def emit(e):
        if e.get("stage") == "embed":
            print(f"\r  {e['model']}: {e['done']}/{e['total']} chunks, {e['rate']:.0f}/s, "
                  f"{e['eta_s']:.0f} s left   ", end="", file=sys.stderr, flush=True)
        elif e.get("stage") in ("load", "evaluate"):
            print(f"\n{e['model']}: {e['stage']}…", end="", file=sys.stderr, flush=True)
        elif e.get("stage") == "error":
            print(f"\n{e['model']}: ERROR {e['error']}", file=sys.stderr)
        elif e.get("stage") == "finished":
            print(file=sys.stderr)
    return emit
