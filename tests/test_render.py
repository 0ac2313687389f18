"""The search result as the model reads it: counts, and how each hit matched."""

from server.render import render_search
from server.search import SearchHit, SearchResults


def _hit(match: str, matched: list[str], missing: list[str]) -> SearchHit:
    return SearchHit(path="深度讨论/a.md", heading="A", snippet="…", score=1.0, kind="discussion", lecture=None,
                     handle="深度讨论/a.md#a", match=match, matched=matched, missing=missing)


def _results(*hits: SearchHit) -> SearchResults:
    return SearchResults(query="为什么 pin memory 能加速", hits=list(hits), aliases=[], index_state="fresh")


def test_one_match_is_counted_in_the_singular() -> None:
    text = render_search(_results(_hit("full", ["pin", "memory"], []), _hit("partial", ["pin"], ["memory"])))
    assert "1 match and 1 partial match (only some query words)" in text


def test_several_matches_are_counted_in_the_plural() -> None:
    text = render_search(_results(*[_hit("full", ["pin"], []) for _ in range(2)],
                                  *[_hit("partial", ["pin"], ["memory"]) for _ in range(3)]))
    assert "2 matches and 3 partial matches" in text


def test_a_full_match_names_the_lesser_words_it_lacks_and_a_partial_one_what_it_holds() -> None:
    lines = render_search(_results(_hit("full", ["pin", "memory"], ["加速"]),
                                   _hit("partial", ["pin"], ["memory", "加速"]))).splitlines()
    assert lines[2].endswith("[discussion, lacks 加速]")
    assert lines[4].endswith("[discussion, partial: has pin, lacks memory 加速]")


def test_the_schema_says_what_full_means_when_words_are_missing() -> None:
    description = SearchHit.model_json_schema()["properties"]["match"]["description"]
    assert "full" in description and "missing" in description
