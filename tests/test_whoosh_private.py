"""The canary for `server.search.whoosh_private`, the one module that reads Whoosh's private structures.

Each test compares what it reads with what Whoosh's public matcher API says, on posting lists of every shape
the index produces: one posting stored inline, many blocks, compressed blocks, deleted documents. If a Whoosh
release moves the private layout, these fail here, by name, instead of search quietly returning wrong results.
"""

from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from whoosh import fields, index
from whoosh.codec.whoosh3 import W3LeafMatcher

from server.search.whoosh_private import (
    MergeSource,
    iter_segment_postings,
    read_posting_list,
    read_values_at,
    segment_sizes,
)

PINNED = "2.7.5"


def test_the_pinned_whoosh_release_is_installed() -> None:
    assert version("whoosh-reloaded") == PINNED, "whoosh_private reads 2.7.5's layout: re-check it, then re-pin"


def test_the_leaf_matcher_still_has_the_private_fields_we_read(tmp_path: Path) -> None:
    ix = build(tmp_path, 1000)
    with ix.searcher() as searcher:
        matcher = searcher.reader().postings("words", "common")
        assert type(matcher) is W3LeafMatcher
        for name in ("_postfile", "_dataoffset", "_nextoffset", "_compression", "_blocklength", "_maxid",
                     "_lastblock", "_goto"):
            assert hasattr(matcher, name), name
        segment = searcher.reader()
        assert hasattr(segment, "_terms") and hasattr(segment, "_text_to_bytes")
        assert not matcher._lastblock, "1,000 postings should span several blocks"


def build(folder: Path, docs: int, *, delete_every: int = 0) -> Any:
    schema = fields.Schema(key=fields.ID(stored=True, unique=True), words=fields.TEXT(phrase=True))
    ix = index.create_in(str(folder), schema)
    writer = ix.writer()
    for i in range(docs):
        # "common" everywhere (many blocks), "rare" once (inline), "mid" in every seventh document.
        text = "common " * (1 + i % 3) + ("rare " if i == 5 else "") + ("mid " if i % 7 == 0 else "")
        writer.add_document(key=str(i), words=text)
    writer.commit()
    if delete_every:
        writer = ix.writer()
        for i in range(0, docs, delete_every):
            writer.delete_by_term("key", str(i))
        writer.commit(merge=False)
    return ix


def public(reader: Any, term: str) -> tuple[list[int], list[float]]:
    matcher = reader.postings("words", term)
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return ids, weights


@pytest.mark.parametrize("delete_every", [0, 4])
@pytest.mark.parametrize("term", ["common", "mid", "rare"])
def test_posting_lists_read_directly_match_the_public_matcher(tmp_path: Path, term: str, delete_every: int) -> None:
    ix = build(tmp_path, 1000, delete_every=delete_every)
    with ix.searcher() as searcher:
        for reader, _offset in searcher.reader().leaf_readers():
            ids, weights, values = read_posting_list(reader, "words", term)
            assert (ids, weights) == public(reader, term)
            assert len(values) == len(ids)
            if delete_every:
                everything, _, _ = read_posting_list(reader, "words", term, keep_deleted=True)
                assert set(everything) >= set(ids) and set(everything) - set(ids) <= reader.deleted_docs_set


def public_values(reader: Any, term: str) -> dict[int, bytes]:
    matcher = reader.postings("words", term)
    found = {}
    while matcher.is_active():
        found[matcher.id()] = matcher.value()
        matcher.next()
    return found


@pytest.mark.parametrize("delete_every", [0, 4])
@pytest.mark.parametrize("term", ["common", "mid", "rare"])
def test_values_read_at_chosen_documents_match_the_public_matcher(tmp_path: Path, term: str,
                                                                  delete_every: int) -> None:
    ix = build(tmp_path, 1000, delete_every=delete_every)
    with ix.searcher() as searcher:
        for reader, _offset in searcher.reader().leaf_readers():
            everything = public_values(reader, term)
            for wanted in ([5], [0, 1, 2, 700, 999], list(range(0, 1000, 3)), list(range(990, 1000)), [1001]):
                live = [doc for doc in wanted if doc not in reader.deleted_docs_set]
                expected = {doc: everything[doc] for doc in live if doc in everything}
                assert read_values_at(reader, "words", term, live) == expected, wanted
        assert read_values_at(searcher.reader(), "words", "absent", [1, 2]) == {}


def test_a_term_no_segment_holds_reads_as_empty(tmp_path: Path) -> None:
    ix = build(tmp_path, 10)
    with ix.searcher() as searcher:
        assert read_posting_list(searcher.reader(), "words", "absent") == ([], [], [])


@pytest.mark.parametrize("delete_every", [0, 4])
def test_a_segments_postings_for_a_merge_match_whooshs_own(tmp_path: Path, delete_every: int) -> None:
    ix = build(tmp_path, 1000, delete_every=delete_every)
    with ix.searcher() as searcher:
        for reader, _offset in searcher.reader().leaf_readers():
            ours = list(iter_segment_postings(reader))
            assert ours == list(reader.iter_postings())
            assert {text for _field, text, *_ in ours} >= {b"common", b"mid", b"rare"}
            assert MergeSource(reader).iter_postings is not reader.iter_postings
            assert MergeSource(reader).doc_count_all() == reader.doc_count_all()


def test_a_merge_through_merge_sources_keeps_every_live_posting(tmp_path: Path) -> None:
    ix = build(tmp_path, 300, delete_every=5)
    for first in (300, 400):  # two more segments, so the merge folds three
        writer = ix.writer()
        for i in range(first, first + 50):
            writer.add_document(key=str(i), words=f"common fresh{i % 4} " + ("rare " if i == first else ""))
        writer.commit(merge=False)
    terms = ("common", "mid", "rare", "fresh1")

    def by_key(searcher: Any) -> dict[str, list[tuple[str, float]]]:  # merging renumbers the documents
        found = {}
        for term in terms:
            ids, weights = public(searcher.reader(), term)
            pairs = zip(ids, weights, strict=True)
            found[term] = sorted((searcher.stored_fields(doc)["key"], weight) for doc, weight in pairs)
        return found

    with ix.searcher() as searcher:
        expected = by_key(searcher)

    def through_sources(writer: Any, segments: list[Any]) -> list[Any]:
        from whoosh.reading import SegmentReader

        for segment in segments:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            writer.add_reader(MergeSource(reader))
            reader.close()
        return []

    ix.writer().commit(mergetype=through_sources)
    assert len(ix._segments()) == 1
    with ix.searcher() as searcher:
        assert by_key(searcher) == expected
        assert searcher.doc_count() == 300 - 60 + 100


def test_segment_sizes_count_written_and_deleted_documents(tmp_path: Path) -> None:
    ix = build(tmp_path, 100, delete_every=10)
    assert segment_sizes(ix._segments()) == [(100, 10)]
