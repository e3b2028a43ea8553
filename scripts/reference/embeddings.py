"""Reference vectors for the embedding fixtures, computed once with sentence-transformers.

Usage: python embeddings.py MODEL_DIR > crates/engine/tests/fixtures/minilm_reference.json
(MODEL_DIR: the all-MiniLM-L6-v2 files, e.g. from `switchyard models pull all-minilm-l6-v2`.)
"""
import json
import sys

import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Switchyard keeps data inside its borders.",
    "A",
    "Ünïcödé, emoji 🚂 and punctuation: does tokenisation agree?",
    "Sovereign AI gateways route each request to a model deployment whose jurisdiction is "
    "allowed by the tenant's policy, and record a receipt for every answer so that auditors "
    "can verify later where the data went and which model produced which output.",
]

model = SentenceTransformer(sys.argv[1], device="cpu")
vectors = model.encode(SENTENCES, batch_size=32, convert_to_numpy=True)
json.dump(
    {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "computed_with": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}",
        "cases": [{"text": s, "embedding": [float(x) for x in v]} for s, v in zip(SENTENCES, vectors)],
    },
    sys.stdout,
    indent=None,
)
