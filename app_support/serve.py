"""Start the EmbedLab server: ``python -m app_support.serve [streamlit options]``.

Streamlit has no start-up hook: code in ``streamlit_app.py`` first runs when the first visitor
arrives. UMAP's numba code takes 15–70 s to compile once per process, so this launcher starts
that compile in a background thread of the server process itself, before Streamlit serves
anything; the first visitor's map then finds it compiled (or compiling, said on the page).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "streamlit_app.py"


def tune_memory() -> None:
    """Before any thread starts and before pyarrow loads: glibc gives each allocating thread its own
    malloc arena (Milvus Lite, onnxruntime, torch and Streamlit start dozens), and memory freed in one
    cannot serve another, so a few arenas keep RSS closer to what is in use; pyarrow's allocator (Milvus
    Lite's tables) gives freed pages back at once (``embedlab.heap``; bench/memory.py does the same)."""
    from embedlab import heap

    heap.arrow_returns_pages()
    heap.limit_arenas()


def main(argv: list[str]) -> None:
    tune_memory()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(format="%(asctime)s %(name)s %(message)s", level=logging.WARNING)
    logging.getLogger("embedlab").setLevel(logging.INFO)
    from streamlit.web import cli  # before the warm-up thread exists: imports are not thread-safe

    from embedlab import projection

    projection.warm_up_umap()  # same process as the server: the compiled code is the pages' code

    sys.argv = ["streamlit", "run", str(APP), *argv]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
