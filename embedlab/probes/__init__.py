"""Deeper looks at a model than retrieval scores: similarity, languages, robustness, local structure,
and eval sets made from the user's own documents.

Probes take an ``Embedder`` (dense or sparse alike) or plain vectors and return plain numbers.
Symmetric tasks (STS, bitext, perturbations) encode both sides with ``encode_queries``: e5-style models
were trained with the ``query:`` prefix on both sides of symmetric pairs, and MTEB does the same.
One module per kind: ``data`` (input files), ``similarity`` (STS, bitext, cosine helpers), ``noise``
(perturbations), ``consistency`` (local structure, maps), ``runs`` (cached runs on a comparison);
generated eval sets come from ``embedlab.evalgen``. This module is the public face.
"""

from __future__ import annotations

from ..evalgen import GENERATED_NOTE, generate_eval_set, generate_eval_set_llm, write_beir
from . import consistency, data, noise, runs, similarity
from .consistency import map_false_neighbours, neighbourhood_purity, purity_of_neighbours, trustworthiness
from .data import (
    SAMPLE_PARALLEL,
    SAMPLE_STS,
    PairTable,
    load_parallel,
    load_sts,
    load_sts_tsv,
    parallel_languages,
    read_pairs,
)
from .noise import (
    KINDS,
    SYNONYMS,
    corpus_search,
    noisy_variants,
    perturb,
    perturbation_robustness,
    perturbation_survival,
)
from .similarity import bitext_mining, cosine_blocks, paired_cosine, sts_spearman

__all__ = ["GENERATED_NOTE", "KINDS", "SAMPLE_PARALLEL", "SAMPLE_STS", "SYNONYMS", "PairTable", "bitext_mining",
           "consistency", "corpus_search", "cosine_blocks", "data", "generate_eval_set", "generate_eval_set_llm",
           "load_parallel", "load_sts", "load_sts_tsv", "map_false_neighbours", "neighbourhood_purity", "noise",
           "noisy_variants", "paired_cosine", "parallel_languages", "perturb", "perturbation_robustness",
           "perturbation_survival", "purity_of_neighbours", "read_pairs", "runs", "similarity", "sts_spearman",
           "trustworthiness", "write_beir"]
