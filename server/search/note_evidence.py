"""What the other sections of a note add to each of its sections' score.

The ranking scores sections one by one, so it cannot see that a note returns to the query's topic section after
section, which makes it a note about the topic, where one naming it once is not (困惑度 交叉熵 found first in
notes naming both once, before the evaluation chapter that explains perplexity throughout). A section's score
is raised by NOTE_EVIDENCE times what its note's other matching sections score, each weighted by the share of
the query it holds, and scaled by the share of the note's sections that match: a long lecture touching the
topic in a few of its sixty sections does not outrank the note devoted to it.

The evidence is at most EVIDENCE_CAP times the section's own score. A note's title is part of every section, so
a title naming the topic makes every section of a long note match: uncapped, its evidence would grow with the
note's length.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from server.search.ranking import FloatArray, IntArray, Ranking

NOTE_EVIDENCE = 0.8  # how much a note's other matching sections add to each of its sections' score
EVIDENCE_CAP = 2.0  # the evidence is at most this many times the section's own score


def raise_scores(score: FloatArray, held: FloatArray, note: IntArray, size: IntArray) -> FloatArray:
    """Sections' scores (`score`, each section holding the share `held` of the query), each raised by the other
    matching sections of its note (`note`: a small non-negative id per note; `size`: how many sections the note
    has)."""
    if not len(score):
        return score
    own = score.astype(np.float64)
    weighted = own * held
    total = np.bincount(note, weights=weighted)
    count = np.bincount(note).astype(np.float64)[note]
    share = count / np.maximum(size.astype(np.float64), count)
    evidence = np.minimum(NOTE_EVIDENCE * (total[note] - weighted) * share, EVIDENCE_CAP * own)
    raised: FloatArray = (own + evidence).astype(np.float32)
    return raised


def raise_ranking(ranking: Ranking, note: IntArray, size: IntArray, among: npt.NDArray[np.bool_]) -> None:
    """`raise_scores` over the sections `among` (those the search admits, full or partial matches), in place."""
    docs = np.flatnonzero(among & (ranking.score > 0))
    ranking.score[docs] = raise_scores(ranking.score[docs], ranking.coverage[docs], note[docs], size[docs])


def raise_hits(sections: Sequence[tuple[float, float, str]], sizes: Mapping[str, int]) -> list[float]:
    """`raise_scores` for sections given as (score, share of the query held, note path), the scan's matches
    (`sizes`: how many sections each note has)."""
    if not sections:
        return []
    notes = {path: number for number, path in enumerate(sizes)}
    raised = raise_scores(
        np.array([score for score, _, _ in sections], dtype=np.float32),
        np.array([held for _, held, _ in sections], dtype=np.float32),
        np.array([notes[path] for _, _, path in sections], dtype=np.int32),
        np.array([sizes[path] for _, _, path in sections], dtype=np.int32),
    )
    return [float(score) for score in raised]
