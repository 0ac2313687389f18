"""A plain BM25 baseline for the search-quality benchmark: what an off-the-shelf lexical index gives.

No tuning: files are tokenized with `rjieba.cut_for_search` (lower-cased; a token is kept if it contains
a letter, a digit or a Han character), each whole file is one BM25 document (k1 = 1.2, b = 0.75, the
Lucene idf `ln(1 + (N - df + 0.5) / (df + 0.5))`), and a query is the OR of its distinct tokens. The
system returns every file with a positive score, best first (ties by path), like the grep baselines.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path

import rjieba
from grep_baselines import System, load_texts

K1 = 1.2
B = 0.75
_KEEP = re.compile(r"[^\W_]")  # a letter or a digit in any script, which includes Han characters


def tokenize(text: str) -> list[str]:
    """`rjieba.cut_for_search` tokens, lower-cased, without pure punctuation or whitespace."""
    return [token for token in (t.lower() for t in rjieba.cut_for_search(text)) if _KEEP.search(token)]


def bm25(corpus: Path | Mapping[str, str]) -> System:
    """BM25 over whole files; the index is built once, each query is a sum over its distinct tokens."""
    texts = load_texts(corpus) if isinstance(corpus, Path) else corpus
    postings: dict[str, dict[str, int]] = {}
    lengths: dict[str, int] = {}
    for path, text in texts.items():
        counts = Counter(tokenize(text))
        lengths[path] = sum(counts.values())
        for token, tf in counts.items():
            postings.setdefault(token, {})[path] = tf
    n_docs = len(lengths)
    avg_len = sum(lengths.values()) / n_docs if n_docs else 0.0

    def search(query: str) -> list[str]:
        scores: defaultdict[str, float] = defaultdict(float)
        for token in dict.fromkeys(tokenize(query)):
            posting = postings.get(token)
            if not posting:
                continue
            idf = math.log(1 + (n_docs - len(posting) + 0.5) / (len(posting) + 0.5))
            for path, tf in posting.items():
                norm = K1 * (1 - B + B * lengths[path] / avg_len)
                scores[path] += idf * tf * (K1 + 1) / (tf + norm)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
        return [path for path, score in ranked if score > 0]

    return search
