"""The one place that reads Whoosh's private structures: a posting list, block by block.

Whoosh's own matchers cost a Python call per posting (and a generator step per id in `delta_decode`); a query
here reads whole posting lists, so it unpickles each block itself and decodes its ids with `accumulate`.
A merge copies every posting of a few small segments, and reads them here too, a terms file in order and a
block at a time (`iter_segment_postings`).
This relies on whoosh-reloaded 2.7.5's `SegmentReader` (`_terms`, `_text_to_bytes`), `W3TermsReader`
(`_codec`, `_postfile`, `items`) and `W3LeafMatcher` layout (`_postfile`, `_dataoffset`, `_nextoffset`,
`_compression`, `_blocklength`, `_maxid`, `_lastblock`, `_goto`, `_read_ids`, `_read_weights`, `_read_values`,
and a block being a pickled (ids, weights, values) tuple); the version is pinned in pyproject.toml and
`tests/test_whoosh_private.py` fails loudly if it moves.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

from whoosh.codec.whoosh3 import W3LeafMatcher
from whoosh.reading import TermNotFound

PostingList = tuple[list[int], list[float], list[bytes]]
"""Document numbers (within the segment), weights and encoded values, aligned."""


def read_posting_list(reader: Any, field: str, term: str, *, keep_deleted: bool = False) -> PostingList:
    """Every posting of `term` in `field` of one segment reader; those of deleted documents only when
    `keep_deleted` (the caller then drops them itself, as the deletions of a later commit require)."""
    ids: list[int] = []
    weights: list[float] = []
    values: list[bytes] = []
    matcher = _leaf_matcher(reader, field, term)
    if matcher is None:
        return ids, weights, values
    deleted = frozenset() if keep_deleted else reader.deleted_docs_set
    if type(matcher) is W3LeafMatcher:
        _read_blocks(matcher, ids, weights, values)
    else:  # a one-posting list stored inline with the term
        while matcher.is_active():
            ids.append(matcher.id())
            weights.append(matcher.weight())
            values.append(matcher.value())
            matcher.next()
    if deleted:
        kept = [i for i, doc in enumerate(ids) if doc not in deleted]
        ids = [ids[i] for i in kept]
        weights = [weights[i] for i in kept]
        values = [values[i] for i in kept]
    return ids, weights, values


def _leaf_matcher(reader: Any, field: str, term: str) -> Any:
    """The term's matcher in one segment, None when the segment lacks the term. Not `reader.postings`: for a
    segment with deletions it wraps the matcher in a filter that reads the first block to skip deleted
    documents, and looks the term up twice; the callers here drop deleted documents themselves."""
    try:
        return reader._terms.matcher(field, reader._text_to_bytes(field, term), reader.schema[field].format)
    except TermNotFound:
        return None


def _read_blocks(matcher: Any, ids: list[int], weights: list[float], values: list[bytes]) -> None:
    postfile = matcher._postfile
    while True:
        start = matcher._dataoffset
        data = postfile.get(start, matcher._nextoffset - start)
        if matcher._compression:
            data = zlib.decompress(data)
        block_ids, block_weights, block_values = pickle.loads(data)
        count = matcher._blocklength
        ids.extend(accumulate(block_ids))
        if block_weights is None:
            weights.extend([1.0] * count)
        elif isinstance(block_weights, float):
            weights.extend([block_weights] * count)
        else:
            weights.extend(block_weights)
        values.extend(block_values if block_values is not None else [b""] * count)
        if matcher._lastblock:
            return
        matcher._goto(matcher._nextoffset)


def read_values_at(reader: Any, field: str, term: str, docs: list[int]) -> dict[int, bytes]:
    """The values of `term`'s postings in `docs` (segment document numbers, ascending) that hold it. Blocks
    whose highest id is below the next wanted document are passed by their header alone; a block holding
    wanted documents is unpickled once, not stepped through a posting at a time."""
    found: dict[int, bytes] = {}
    matcher = _leaf_matcher(reader, field, term) if docs else None
    if matcher is None:
        return found
    if type(matcher) is not W3LeafMatcher:  # a one-posting list stored inline with the term
        wanted = set(docs)
        while matcher.is_active():
            if matcher.id() in wanted:
                found[matcher.id()] = matcher.value()
            matcher.next()
        return found
    postfile, next_doc = matcher._postfile, 0
    while True:
        if docs[next_doc] <= matcher._maxid:
            start = matcher._dataoffset
            data = postfile.get(start, matcher._nextoffset - start)
            if matcher._compression:
                data = zlib.decompress(data)
            block_ids, _weights, block_values = pickle.loads(data)
            where = {doc: i for i, doc in enumerate(accumulate(block_ids))}
            while next_doc < len(docs) and docs[next_doc] <= matcher._maxid:
                i = where.get(docs[next_doc])
                if i is not None:
                    found[docs[next_doc]] = block_values[i] if block_values is not None else b""
                next_doc += 1
            if next_doc == len(docs):
                return found
        if matcher._lastblock:
            return found
        matcher._goto(matcher._nextoffset)


def iter_segment_postings(reader: Any) -> Iterator[tuple[str, bytes, int, float, Any]]:
    """Every posting of one segment reader, deleted documents left out, exactly as Whoosh's
    `IndexReader.iter_postings` yields them (field, term bytes, document, weight, value) for a merge to copy.
    Whoosh's own looks each term up in the hash table again, wraps its matcher to skip deleted documents and
    steps it a posting at a time: most of a merge's time. This walks the terms file in order and takes each
    block of a list whole, through the matcher's own block decoders."""
    terms = reader._terms
    codec, postfile, schema = terms._codec, terms._postfile, reader.schema
    deleted = reader.deleted_docs_set
    for (field, text), info in terms.items():
        if field not in schema:
            continue
        matcher = codec.postings_reader(postfile, info, schema[field].format)
        if type(matcher) is not W3LeafMatcher:  # a list stored inline with the term: a posting or two
            while matcher.is_active():
                if matcher.id() not in deleted:
                    yield field, text, matcher.id(), matcher.weight(), matcher.value()
                matcher.next()
            continue
        while True:
            matcher._read_ids()
            matcher._read_weights()
            matcher._read_values()
            for doc, weight, value in zip(matcher._ids, matcher._weights, matcher._values, strict=True):
                if doc not in deleted:
                    yield field, text, doc, weight, value
            if matcher._lastblock:
                break
            matcher._goto(matcher._nextoffset)


class MergeSource:
    """A segment reader to hand `SegmentWriter.add_reader`: the reader itself, but for its postings, which come
    from `iter_segment_postings` (the method `add_reader` reads them through is Whoosh's public low-level one)."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader

    def iter_postings(self) -> Iterator[tuple[str, bytes, int, float, Any]]:
        return iter_segment_postings(self._reader)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


def segment_sizes(segments: list[Any]) -> list[tuple[int, int]]:
    """(documents written, documents deleted) of each segment, for the merge policy."""
    return [(segment.doc_count_all(), segment.deleted_count()) for segment in segments]
