"""The search-quality benchmark's own tools: scorer arithmetic, grep baselines, the CLI and the query set."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
sys.path.insert(0, str(REPO / "bench"))
search_quality: Any = importlib.import_module("search_quality")
grep_baselines: Any = importlib.import_module("grep_baselines")

Query = search_quality.Query


def query(
    kind: str = "en",
    relevant: tuple[str, ...] = ("a.md",),
    partial: tuple[str, ...] = (),
    qid: str = "q",
    text: str = "text",
) -> Any:
    return Query(id=qid, kind=kind, text=text, relevant=relevant, partial=frozenset(partial))


def others(n: int) -> list[str]:
    return [f"other{i}.md" for i in range(n)]


# --- scorer arithmetic -------------------------------------------------------------------------------


def test_recall_is_the_share_of_relevant_files_in_the_top_ten() -> None:
    score = search_quality.score_query(query(relevant=("a.md", "b.md", "c.md", "d.md")), ["x.md", "a.md", "c.md"])
    assert score.recall == pytest.approx(0.5)
    assert score.missed == ("b.md", "d.md")


def test_reciprocal_rank_is_one_over_the_rank_of_the_first_relevant_file() -> None:
    assert search_quality.score_query(query(), ["x.md", "y.md", "a.md"]).reciprocal_rank == pytest.approx(1 / 3)
    assert search_quality.score_query(query(), ["a.md"]).reciprocal_rank == 1.0
    assert search_quality.score_query(query(), ["x.md"]).reciprocal_rank == 0.0


def test_results_after_the_tenth_do_not_count() -> None:
    score = search_quality.score_query(query(), [*others(10), "a.md"])
    assert score.recall == 0.0
    assert score.reciprocal_rank == 0.0
    assert score.returned == 11


def test_recall_needs_at_most_ten_relevant_files() -> None:
    relevant = tuple(f"r{i}.md" for i in range(12))
    score = search_quality.score_query(query(relevant=relevant), list(relevant[:10]))
    assert score.recall == 1.0


def test_partial_files_neither_take_a_rank_nor_cost_recall() -> None:
    q = query(relevant=("a.md", "b.md"), partial=("p1.md", "p2.md"))
    score = search_quality.score_query(q, ["p1.md", "a.md", "p2.md", "b.md"])
    assert score.reciprocal_rank == 1.0
    assert score.recall == 1.0
    # Nine partial files leave one slot, so one relevant file in it is full recall.
    crowded = query(relevant=("a.md", "b.md"), partial=tuple(f"p{i}.md" for i in range(9)))
    assert search_quality.score_query(crowded, [f"p{i}.md" for i in range(9)] + ["a.md"]).recall == 1.0


def test_a_file_listed_twice_counts_once() -> None:
    score = search_quality.score_query(query(relevant=("a.md", "b.md")), ["a.md", "a.md", *others(8), "b.md"])
    assert score.top.count("a.md") == 1
    assert score.recall == 1.0


def test_absent_queries_score_a_false_hit_only_when_anything_comes_back() -> None:
    absent = query(kind="absent", relevant=())
    assert search_quality.score_query(absent, []).false_hit is False
    hit = search_quality.score_query(absent, ["x.md"])
    assert hit.false_hit is True
    assert hit.recall is None and hit.reciprocal_rank is None


def test_summary_macro_averages_per_kind_and_overall_without_absent_queries() -> None:
    queries = [
        query(kind="zh", relevant=("a.md", "b.md"), qid="z1"),
        query(kind="zh", relevant=("c.md",), qid="z2"),
        query(kind="en", relevant=("d.md",), qid="e1"),
        query(kind="absent", relevant=(), qid="n1"),
        query(kind="absent", relevant=(), qid="n2"),
    ]
    answers = {"z1": ["a.md"], "z2": ["x.md", "c.md"], "e1": [], "n1": ["x.md"], "n2": []}
    by_text = {q.id: q for q in queries}
    report = search_quality.SystemReport("fake")
    for qid, ranking in answers.items():
        report.scores.append(search_quality.score_query(by_text[qid], ranking))
    summary = report.summary()
    assert summary["zh"].recall == pytest.approx((0.5 + 1.0) / 2)
    assert summary["zh"].mrr == pytest.approx((1.0 + 0.5) / 2)
    assert summary["en"].recall == 0.0
    assert summary["overall"].queries == 3
    assert summary["overall"].recall == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    assert summary["absent"].false_hits == 1
    assert summary["phrase"].queries == 0
    assert not report.meets_targets()


def test_a_perfect_system_meets_the_targets() -> None:
    queries = [query(kind=kind, qid=kind, text=kind) for kind in ("zh", "mixed", "en", "phrase", "alias")]
    queries.append(query(kind="absent", relevant=(), qid="n", text="nothing"))
    report = search_quality.run_system("perfect", lambda text: [] if text == "nothing" else ["a.md"], queries)
    assert report.meets_targets()


def test_markdown_table_has_a_row_per_system_and_a_cell_per_kind() -> None:
    queries = [query(kind="zh", qid="z"), query(kind="absent", relevant=(), qid="n")]
    reports = [
        search_quality.run_system("one", lambda text: ["a.md"], queries),
        search_quality.run_system("two", lambda text: [], queries),
    ]
    table = search_quality.markdown_table(reports).splitlines()
    assert table[0].startswith("| system | zh | mixed | en | phrase | alias | overall |")
    assert table[2].startswith("| one | 1.00 / 1.00 | – |")
    assert "| 1/1 |" in table[2]
    assert "| 0/1 |" in table[3]


# --- query-set validation ----------------------------------------------------------------------------


def write_queries(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "queries.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ('id = "a"\nkind = "absent"\ntext = "x"\nrelevant = ["f.md"]', "absent query lists files"),
        ('id = "a"\nkind = "zh"\ntext = "x"\nrelevant = []', "no relevant files"),
        ('id = "a"\nkind = "klingon"\ntext = "x"\nrelevant = ["f.md"]', "unknown kind"),
        ('id = "a"\nkind = "en"\ntext = "x"\nrelevant = ["f.md"]\npartial = ["f.md"]', "both relevant and partial"),
    ],
)
def test_malformed_query_sets_are_rejected_with_the_query_named(tmp_path: Path, entry: str, problem: str) -> None:
    with pytest.raises(search_quality.QuerySetError, match=problem):
        search_quality.load_queries(write_queries(tmp_path, f"[[query]]\n{entry}\n"))


def test_the_shipped_query_set_covers_every_kind() -> None:
    queries = search_quality.load_queries()
    kinds = [q.kind for q in queries]
    assert len(queries) >= 48
    for kind in ("zh", "mixed", "en", "phrase", "alias"):
        assert kinds.count(kind) >= 8, kind
    assert kinds.count("absent") >= 6
    assert all(not q.relevant for q in queries if q.kind == "absent")


@pytest.mark.skipif(not CORPUS.is_dir(), reason="evaluation corpus (../shared/corpus) not present")
def test_every_judged_path_exists_in_the_corpus() -> None:
    missing = [
        f"{q.id}: {path}"
        for q in search_quality.load_queries()
        for path in (*q.relevant, *sorted(q.partial))
        if not (CORPUS / path).is_file()
    ]
    assert missing == []


# --- grep baselines ----------------------------------------------------------------------------------


@pytest.fixture
def tiny_corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    files = {
        "a.md": "KV cache KV CACHE kv cache",
        "b.md": "kv cache once, 注意力机制",
        "c.md": "cache only; 注意力 and 机制 apart",
        "sub/d.md": "注意力机制 注意力机制",
        ".hidden/e.md": "kv cache kv cache kv cache kv cache",
        "notes.txt": "kv cache",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_texts_are_every_markdown_file_outside_dot_folders(tiny_corpus: Path) -> None:
    assert sorted(grep_baselines.load_texts(tiny_corpus)) == ["a.md", "b.md", "c.md", "sub/d.md"]


def test_grep_literal_ranks_files_by_case_insensitive_occurrences_of_the_whole_query(tiny_corpus: Path) -> None:
    search = grep_baselines.grep_literal(tiny_corpus)
    assert search("KV Cache") == ["a.md", "b.md"]
    assert search("注意力机制") == ["sub/d.md", "b.md"]
    assert search("   ") == []


def test_grep_any_ranks_by_distinct_terms_then_occurrences(tiny_corpus: Path) -> None:
    search = grep_baselines.grep_any(tiny_corpus)
    assert search("kv cache") == ["a.md", "b.md", "c.md"]


def test_grep_any_keeps_a_run_of_chinese_characters_as_one_term(tiny_corpus: Path) -> None:
    assert grep_baselines.split_terms("注意力机制 KV kv") == ["注意力机制", "kv"]
    assert grep_baselines.grep_any(tiny_corpus)("注意力机制") == ["sub/d.md", "b.md"]


# --- command line ------------------------------------------------------------------------------------


def test_the_cli_skips_cleanly_when_the_corpus_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert search_quality.main(["--corpus", str(tmp_path / "nowhere")]) == 0
    assert "corpus not found" in capsys.readouterr().out


def test_the_cli_prints_a_table_and_writes_per_query_json(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = write_queries(
        tmp_path,
        '[[query]]\nid = "k"\nkind = "en"\ntext = "kv cache"\nrelevant = ["a.md"]\n\n'
        '[[query]]\nid = "n"\nkind = "absent"\ntext = "区块链"\n',
    )
    out_json = tmp_path / "out.json"
    argv = ["--corpus", str(tiny_corpus), "--queries", str(queries), "--systems", "grep-literal,grep-any"]
    assert search_quality.main([*argv, "--json", str(out_json), "--details"]) == 0
    out = capsys.readouterr().out
    assert "| grep-literal | – | – | 1.00 / 1.00 |" in out
    assert "| grep-any |" in out
    result = json.loads(out_json.read_text(encoding="utf-8"))
    literal = result["systems"]["grep-literal"]
    assert literal["summary"]["overall"]["recall"] == 1.0
    assert literal["summary"]["absent"]["false_hits"] == 0
    assert [q["query_id"] for q in literal["queries"]] == ["k", "n"]


def test_the_cli_rejects_an_unknown_system(tiny_corpus: Path) -> None:
    with pytest.raises(SystemExit):
        search_quality.main(["--corpus", str(tiny_corpus), "--systems", "grep-literal,altavista"])


def test_a_missing_engine_is_reported_and_the_baselines_still_run(
    tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def unavailable(name: str) -> Any:
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(search_quality.importlib, "import_module", unavailable)
    assert search_quality.main(["--corpus", str(tiny_corpus)]) == 0
    out = capsys.readouterr().out
    assert "project-memory engine not available: No module named 'server.search'" in out
    assert "| grep-literal |" in out and "| project-memory |" not in out


def test_the_engine_indexes_into_a_temporary_folder_and_is_asked_for_ten_results(
    tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []
    opened: list[Path] = []

    def open_corpus_engine(root: Path, index_dir: Path) -> Any:
        assert root == tiny_corpus and index_dir.is_dir() and tiny_corpus not in index_dir.parents
        opened.append(index_dir)

        def engine(text: str, limit: int) -> list[str]:
            calls.append((text, limit))
            return ["a.md"]

        return engine

    monkeypatch.setattr(
        search_quality.importlib, "import_module", lambda name: SimpleNamespace(open_corpus_engine=open_corpus_engine)
    )
    with search_quality.project_memory_system(tiny_corpus) as system:
        assert system is not None
        assert system("kv cache") == ["a.md"]
    assert calls == [("kv cache", 10)]
    assert not opened[0].exists()
