"""Posting lists as arrays, for ranking: what one commit of the index holds for a term, read once and kept.

Whoosh keeps an index as segments; a commit adds a small segment and marks documents deleted in older ones.
So lists are read and kept per segment (`SegmentTerms`, keyed by Whoosh's segment id, surviving commits that
do not touch the segment), and a commit's view (`IndexTerms`) joins them, dropping the documents deleted in
that commit and shifting each segment's document numbers by its offset. A save therefore costs the next
query only the reads of its own small segment.

Positions are not kept: ranking needs them for a few leading sections only, and reads them through Whoosh's
matchers (`IndexTerms.positions`).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from server.search.filters import Filters
from server.search.whoosh_private import read_posting_list, read_values_at

WORDS = "words"  # the one indexed text field
LENGTH_COLUMN = "wlen"  # a section's weighted length

IntArray = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Postings:
    docs: IntArray  # sorted document numbers of the commit
    weights: FloatArray  # the term's weight in each (the sum of its occurrences' part boosts)


EMPTY = Postings(np.zeros(0, np.int32), np.zeros(0, np.float32))


COLUMNS = ("path", "kind", "lecture", "mtime", "tags")


class SegmentVanished(Exception):
    """A segment's files were deleted (another process merged it away) before its columns could be read."""


class SegmentTerms:
    """One segment's posting lists (deleted documents included), read as asked for, and its columns, read when
    the segment is first seen: a column file is opened lazily by Whoosh, and one that another process has
    deleted meanwhile reads as defaults, silently. Reading them at once, right after the commit is opened,
    turns that race into SegmentVanished, which the caller answers by opening the newer commit."""

    MAX_POSTINGS = 4_000_000  # postings kept (8 bytes each) before the least recently used lists go

    def __init__(self, reader: Any, saved: Path | None = None) -> None:
        """`saved`: a folder where each segment's columns are kept as numpy arrays (a segment never changes once
        written, so they are read from Whoosh once, not at every start)."""
        self._lists: OrderedDict[str, tuple[IntArray, FloatArray]] = OrderedDict()
        self._held = 0
        self._lock = threading.Lock()
        count = reader.doc_count_all()
        if count and not reader.has_column(LENGTH_COLUMN):  # every document has a length: the files are gone
            raise SegmentVanished(reader.segment().segment_id())
        path = saved / f"{reader.segment().segment_id()}-{count}.npz" if saved is not None else None
        loaded = _load_columns(path, count) if path is not None else None
        if loaded is not None:
            self.lengths, self.columns = loaded
            return
        self.lengths = np.fromiter(reader.column_reader(LENGTH_COLUMN), dtype=np.float32, count=count)
        self.columns = {}
        for name in COLUMNS:
            values = list(reader.column_reader(name))
            numeric = bool(values) and isinstance(values[0], int | float)
            self.columns[name] = np.array(values, dtype=np.int64 if numeric else object)
        if path is not None:
            _save_columns(path, self.lengths, self.columns)

    @cached_property
    def notes(self) -> tuple[list[str], IntArray]:
        """The paths of the notes this segment holds sections of, and per document the place of its note's path
        among them, worked out once (a segment never changes). A note's sections are written one after another,
        so a path is taken once per run of documents; a path met in two runs (a merged segment) is listed twice,
        and `IndexTerms.notes` gives both places one id."""
        paths = self.columns["path"]
        if not len(paths):
            return [], np.zeros(0, np.int32)
        starts = np.flatnonzero(np.concatenate(([True], paths[1:] != paths[:-1])))
        places = np.zeros(len(paths), dtype=np.int32)
        places[starts[1:]] = 1
        return [str(path) for path in paths[starts]], np.cumsum(places, dtype=np.int32)

    @cached_property
    def note_runs(self) -> tuple[dict[str, int], IntArray]:
        """Each note's first place in `notes`, and per place the first place of its note: the largest segment's
        own numbering of its notes, kept across commits (`IndexTerms.notes`)."""
        paths, _places = self.notes
        first: dict[str, int] = {}
        same = np.fromiter((first.setdefault(path, place) for place, path in enumerate(paths)), dtype=np.int32,
                           count=len(paths))
        return first, same

    def raw(self, reader: Any, term: str) -> tuple[IntArray, FloatArray]:
        with self._lock:
            found = self._lists.get(term)
            if found is not None:
                self._lists.move_to_end(term)
                return found
        ids, weights, _values = read_posting_list(reader, WORDS, term, keep_deleted=True)
        found = (np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float32))
        with self._lock:
            self._lists[term] = found
            self._held += len(found[0])
            while self._held > self.MAX_POSTINGS and len(self._lists) > 1:
                _, (dropped, _) = self._lists.popitem(last=False)
                self._held -= len(dropped)
        return found


class IndexTerms:
    """One commit of the index, as the ranking reads it (`ranking.TermSource`)."""

    def __init__(self, searcher: Any, segments: Sequence[SegmentTerms]) -> None:
        self.searcher = searcher
        self._leaves: list[tuple[Any, int, SegmentTerms, npt.NDArray[np.bool_] | None]] = []
        lengths: list[FloatArray] = []
        for (sub, offset), terms in zip(searcher.leaf_searchers(), segments, strict=True):
            reader = sub.reader()
            deleted = None
            segment_lengths = terms.lengths
            if reader.has_deletions():
                deleted = np.zeros(reader.doc_count_all(), dtype=np.bool_)
                deleted[list(reader.deleted_docs_set)] = True
                segment_lengths = np.where(deleted, np.float32(0), segment_lengths).astype(np.float32)
            self._leaves.append((reader, offset, terms, deleted))
            lengths.append(segment_lengths)
        # A section's length is never 0 (its note's title is in it); manifest and meta documents have 0.
        self.lengths: FloatArray = np.concatenate(lengths) if lengths else np.zeros(0, np.float32)
        self.size = len(self.lengths)
        self.sections = int(np.count_nonzero(self.lengths))
        self.average_length = float(self.lengths.sum()) / self.sections if self.sections else 1.0
        self._cache: dict[str, Postings] = {}
        self._notes: tuple[IntArray, IntArray] | None = None

    def notes(self) -> tuple[IntArray, IntArray]:
        """Per document, an id of the note it is a section of, and how many live sections that note has (worked
        out at the first search of this commit, from each segment's `SegmentTerms.notes`: an edit leaves a note's
        unchanged sections in an older segment, under the same id). The largest segment's notes keep its own
        numbering (`SegmentTerms.note_runs`), so a commit after a save looks up only the smaller segments' notes,
        not all of them again."""
        if self._notes is None:
            segments = [terms for _reader, _offset, terms, _deleted in self._leaves]
            if not segments:
                self._notes = (np.zeros(0, np.int32), np.zeros(0, np.int32))
                return self._notes
            largest = max(segments, key=lambda terms: len(terms.lengths))
            first, same = largest.note_runs
            others: dict[str, int] = {}
            parts: list[IntArray] = []
            for terms in segments:
                paths, places = terms.notes
                if terms is largest:
                    mapped = same
                else:
                    mapped = np.fromiter(
                        (first[path] if path in first else others.setdefault(path, len(same) + len(others))
                         for path in paths), dtype=np.int32, count=len(paths))
                parts.append(mapped[places] if len(places) else places)
            note = np.concatenate(parts)
            sizes = np.bincount(note[self.lengths > 0], minlength=len(same) + len(others)).astype(np.int32)
            self._notes = (note, sizes[note])
        return self._notes

    def postings(self, term: str) -> Postings:
        found = self._cache.get(term)
        if found is not None:
            return found
        parts_docs: list[IntArray] = []
        parts_weights: list[FloatArray] = []
        for reader, offset, terms, deleted in self._leaves:
            ids, weights = terms.raw(reader, term)
            if not len(ids):
                continue
            if deleted is not None:
                keep = ~deleted[ids]
                ids, weights = ids[keep], weights[keep]
            parts_docs.append(ids + offset if offset else ids)
            parts_weights.append(weights)
        if not parts_docs:
            found = EMPTY
        elif len(parts_docs) == 1:
            found = Postings(parts_docs[0], parts_weights[0])
        else:
            found = Postings(np.concatenate(parts_docs), np.concatenate(parts_weights))
        self._cache[term] = found
        return found

    def spelled_like(self, word: str, edits: int) -> set[str]:
        """The terms within `edits` insertions, deletions or substitutions of `word` that begin with its first two
        letters (a slip is rarely there, and the prefix keeps the walk of the term list short)."""
        found: set[str] = set()
        for reader, _offset, _terms, _deleted in self._leaves:
            found.update(reader.terms_within(WORDS, word, edits, prefix=2))
        found.discard(word)
        return found

    def positions(self, term: str, docs: Sequence[int]) -> dict[int, list[int]]:
        """Where `term` occurs in each of `docs` (commit document numbers) that holds it."""
        from server.search.whoosh_index import decode_positions

        found: dict[int, list[int]] = {}
        wanted = sorted(set(docs))
        for reader, offset, _terms, _deleted in self._leaves:
            local = [doc - offset for doc in wanted if offset <= doc < offset + reader.doc_count_all()]
            for doc, value in read_values_at(reader, WORDS, term, local).items():
                found[doc + offset] = decode_positions(value)
        return found

    def allowed(self, filters: Filters) -> npt.NDArray[np.bool_] | None:
        """Which documents the filters let through; None without filters."""
        if filters.kinds is None and filters.lecture is None and not filters.tags and filters.since is None:
            return None
        parts: list[npt.NDArray[np.bool_]] = []
        for reader, _offset, terms, _deleted in self._leaves:
            mask = np.ones(reader.doc_count_all(), dtype=np.bool_)
            columns = terms.columns
            if filters.kinds is not None:
                kinds = {kind.encode("utf-8") for kind in filters.kinds}
                mask &= np.array([value in kinds for value in columns["kind"]], dtype=np.bool_)
            if filters.lecture is not None:
                mask &= columns["lecture"] == filters.lecture
            if filters.since is not None:
                mask &= columns["mtime"] >= filters.since
            if filters.tags:
                wanted = set(filters.tags)
                mask &= np.array([bool(wanted & set(value.decode("utf-8").split(","))) if value else False
                                  for value in columns["tags"]], dtype=np.bool_)
            parts.append(mask)
        return np.concatenate(parts) if parts else np.zeros(0, np.bool_)

    def column_value(self, doc: int, name: str) -> Any:
        for _reader, offset, terms, _deleted in reversed(self._leaves):
            if doc >= offset:
                return terms.columns[name][doc - offset]
        raise IndexError(doc)

    def path(self, doc: int) -> str:
        return str(self.column_value(doc, "path"))

    def stored(self, doc: int) -> dict[str, Any]:
        return dict(self.searcher.stored_fields(doc))


def _save_columns(path: Path, lengths: FloatArray, columns: dict[str, npt.NDArray[Any]]) -> None:
    """Keep a segment's columns as plain arrays (text as fixed-width unicode or bytes: nothing pickled); a
    failure only costs the next start the slow read."""
    arrays: dict[str, npt.NDArray[Any]] = {LENGTH_COLUMN: lengths}
    for name, values in columns.items():
        if values.dtype != object:
            arrays[name] = values
        elif all(isinstance(value, str) for value in values):
            arrays[name] = np.array(values.tolist(), dtype=np.str_)
        elif all(isinstance(value, bytes) for value in values) and not any(v.endswith(b"\0") for v in values):
            arrays[name] = np.array(values.tolist(), dtype=np.bytes_)
        else:
            return  # a column of mixed values: read from Whoosh each time
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        with open(temp, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
        os.replace(temp, path)
    except OSError:
        with contextlib.suppress(OSError):
            temp.unlink()


def _load_columns(path: Path, count: int) -> tuple[FloatArray, dict[str, npt.NDArray[Any]]] | None:
    try:
        with np.load(path, allow_pickle=False) as saved:
            lengths = saved[LENGTH_COLUMN].astype(np.float32)
            columns = {name: saved[name] for name in COLUMNS}
    except (OSError, KeyError, ValueError):
        return None
    if len(lengths) != count or any(len(values) != count for values in columns.values()):
        return None
    for name, values in columns.items():
        if values.dtype.kind in "US":  # back to Python str and bytes, as Whoosh gives them
            columns[name] = np.array(values.tolist(), dtype=object)
    return lengths, columns


def forget_columns(saved: Path, live: set[str]) -> None:
    """Remove the kept columns of segments no longer in the index (merged away)."""
    try:
        entries = list(os.scandir(saved))
    except OSError:
        return
    for entry in entries:
        if entry.name.endswith(".npz") and entry.name.rsplit("-", 1)[0] not in live:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
