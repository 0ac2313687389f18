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
    split: str = "dev",
    lang: str | None = None,
) -> Any:
    if kind == "question" and lang is None:
        lang = "en"
    return Query(id=qid, kind=kind, text=text, relevant=relevant, partial=frozenset(partial), split=split, lang=lang)


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
    assert not report.meets_targets(split="dev")


def test_a_perfect_system_meets_the_targets_on_the_heldout_half() -> None:
    kinds = ("zh", "mixed", "en", "phrase", "alias", "question")
    queries = [query(kind=kind, qid=kind, text=kind, split="heldout") for kind in kinds]
    queries.append(query(kind="absent", relevant=(), qid="n", text="nothing", split="heldout"))
    queries.append(query(kind="zh", qid="dev-miss", text="missed", split="dev"))
    report = search_quality.run_system(
        "perfect", lambda text: [] if text in ("nothing", "missed") else ["a.md"], queries
    )
    assert report.meets_targets()  # judged on held-out: the failed dev query does not count
    assert not report.meets_targets(split="dev")


def test_a_split_with_nothing_to_score_meets_no_target() -> None:
    report = search_quality.run_system("any", lambda text: ["a.md"], [query(kind="zh", split="dev")])
    assert not report.meets_targets()


def test_questions_must_beat_the_baseline_on_recall_and_mrr() -> None:
    queries = [
        query(kind="zh", qid="k", text="keyword", split="heldout"),
        query(kind="question", qid="q1", text="why one", relevant=("a.md", "b.md"), split="heldout"),
        query(kind="question", qid="q2", text="why two", relevant=("c.md",), split="heldout"),
    ]
    answers = {"keyword": ["a.md"], "why one": ["a.md", "b.md"], "why two": ["x.md", "c.md"]}
    product = search_quality.run_system("product", lambda text: answers[text], queries)
    weaker = search_quality.run_system("bm25", lambda text: answers[text][:1], queries)
    as_good = search_quality.run_system("bm25", lambda text: answers[text], queries)
    questions = product.summary("heldout")["question"]
    assert questions.recall == pytest.approx(1.0) and questions.mrr == pytest.approx(0.75)
    assert product.meets_targets(weaker)
    assert not product.meets_targets(as_good)  # ahead means strictly better


def test_question_scores_are_summarised_overall_and_per_language() -> None:
    queries = [
        query(kind="zh", qid="k"),
        query(kind="question", qid="qz", lang="zh", text="为什么"),
        query(kind="question", qid="qe", lang="en", text="why"),
    ]
    report = search_quality.run_system("s", lambda text: ["a.md"] if text != "why" else ["x.md"], queries)
    summary = report.summary()
    assert summary["overall"].queries == 1  # the keyword kinds only
    assert summary["question"].queries == 2
    assert summary["question"].recall == pytest.approx(0.5)
    assert summary["question:zh"].recall == 1.0
    assert summary["question:en"].recall == 0.0
    assert summary["question:mixed"].queries == 0


def test_summaries_can_be_restricted_to_a_split() -> None:
    queries = [query(kind="zh", qid="d", text="d", split="dev"), query(kind="zh", qid="h", text="h", split="heldout")]
    report = search_quality.run_system("s", lambda text: ["a.md"] if text == "d" else [], queries)
    assert report.summary("dev")["zh"].recall == 1.0
    assert report.summary("heldout")["zh"].recall == 0.0
    assert report.summary()["zh"].recall == pytest.approx(0.5)


def test_markdown_table_has_dev_heldout_and_gap_rows_per_system() -> None:
    queries = [
        query(kind="zh", qid="z", split="dev"),
        query(kind="zh", qid="z2", text="other", split="heldout"),
        query(kind="absent", relevant=(), qid="n", text="nothing", split="heldout"),
    ]
    reports = [
        search_quality.run_system("one", lambda text: ["a.md"], queries),
        search_quality.run_system("two", lambda text: [], queries),
    ]
    table = search_quality.markdown_table(reports).splitlines()
    assert table[0].startswith(
        "| system | split | zh | mixed | en | phrase | alias | keyword | questions | q zh | q mixed | q en |"
    )
    assert len(table) == 2 + 2 * 3
    assert table[2].startswith("| one | dev | 1.00 / 1.00 | – |")
    assert table[3].startswith("| one | held-out | 1.00 / 1.00 | – |")
    assert "| 1/1 |" in table[3] and table[3].endswith("| no |")  # an absent query returned results
    assert table[4].startswith("| one | gap (dev − held-out) | +0.00 / +0.00 | – |")
    assert table[6].startswith("| two | held-out | 0.00 / 0.00 |") and "| 0/1 |" in table[6]
    assert table[7].startswith("| two | gap (dev − held-out) | +0.00 / +0.00 |")


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
        ('id = "a"\nkind = "en"\nsplit = "test"\ntext = "x"\nrelevant = ["f.md"]', "unknown split"),
        ('id = "a"\nkind = "question"\ntext = "why x"\nrelevant = ["f.md"]', "a question needs lang"),
        ('id = "a"\nkind = "question"\nlang = "fr"\ntext = "why x"\nrelevant = ["f.md"]', "a question needs lang"),
        ('id = "a"\nkind = "zh"\nlang = "zh"\ntext = "x"\nrelevant = ["f.md"]', "only questions have a lang"),
    ],
)
def test_malformed_query_sets_are_rejected_with_the_query_named(tmp_path: Path, entry: str, problem: str) -> None:
    with pytest.raises(search_quality.QuerySetError, match=problem):
        search_quality.load_queries(write_queries(tmp_path, f"[[query]]\n{entry}\n"))


def test_split_and_lang_are_parsed_and_a_missing_split_means_dev(tmp_path: Path) -> None:
    body = (
        '[[query]]\nid = "a"\nkind = "zh"\ntext = "x"\nrelevant = ["f.md"]\n\n'
        '[[query]]\nid = "b"\nkind = "question"\nlang = "mixed"\nsplit = "heldout"\ntext = "GQA 是什么"\n'
        'relevant = ["f.md"]\n'
    )
    first, second = search_quality.load_queries(write_queries(tmp_path, body))
    assert (first.split, first.lang) == ("dev", None)
    assert (second.kind, second.split, second.lang) == ("question", "heldout", "mixed")
    assert search_quality.score_query(second, ["f.md"]).split == "heldout"


def test_the_shipped_query_set_covers_every_kind() -> None:
    queries = search_quality.load_queries()
    kinds = [q.kind for q in queries]
    assert len(queries) >= 153
    for kind in ("zh", "mixed", "en", "phrase", "alias"):
        assert kinds.count(kind) >= 16, kind
    assert kinds.count("absent") >= 23
    assert all(not q.relevant for q in queries if q.kind == "absent")
    questions = [q for q in queries if q.kind == "question"]
    assert len(questions) >= 45
    for lang in ("zh", "mixed", "en"):
        assert sum(q.lang == lang for q in questions) >= 15, lang


def test_the_shipped_query_set_names_a_split_for_every_query_and_both_halves_have_every_kind() -> None:
    import tomllib

    with search_quality.DEFAULT_QUERIES.open("rb") as handle:
        raw = tomllib.load(handle)["query"]
    assert all(entry.get("split") in ("dev", "heldout") for entry in raw)
    queries = search_quality.load_queries()
    # The 53 queries used while tuning the engine are dev queries.
    assert all(q.split == "dev" for q in queries[:53])
    for split in ("dev", "heldout"):
        in_split = [q for q in queries if q.split == split]
        for kind in search_quality.KINDS:
            assert any(q.kind == kind for q in in_split), (split, kind)
        for lang in ("zh", "mixed", "en"):
            assert any(q.kind == "question" and q.lang == lang for q in in_split), (split, lang)


EXTRA_SETS = sorted((Path(search_quality.__file__).parent / "sets").glob("*.toml"))


@pytest.mark.parametrize("path", EXTRA_SETS, ids=[path.stem for path in EXTRA_SETS])
def test_each_independent_query_set_loads_and_names_both_halves(path: Path) -> None:
    queries = search_quality.load_queries(path)
    assert {q.split for q in queries} == {"dev", "heldout"}
    assert any(q.kind == "absent" for q in queries) and any(q.kind != "absent" for q in queries)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="evaluation corpus (../shared/corpus) not present")
@pytest.mark.parametrize("path", [search_quality.DEFAULT_QUERIES, *EXTRA_SETS], ids=lambda path: path.stem)
def test_every_judged_path_exists_in_the_corpus(path: Path) -> None:
    missing = [
        f"{q.id}: {note}"
        for q in search_quality.load_queries(path)
        for note in (*q.relevant, *sorted(q.partial))
        if not (CORPUS / note).is_file()
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
    assert "| grep-literal | dev | – | – | 1.00 / 1.00 |" in out
    assert "| grep-any | dev |" in out
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
    assert "project-memory engine not available: No module named 'corpus_engine'" in out
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


def _split_query_file(tmp_path: Path) -> Path:
    """One dev and one held-out query per scored kind used here, every one of them missed by grep."""
    return write_queries(
        tmp_path,
        '[[query]]\nid = "dev-kw"\nkind = "en"\nsplit = "dev"\ntext = "kv cache"\nrelevant = ["sub/d.md"]\n\n'
        '[[query]]\nid = "xheld-kw"\nkind = "en"\nsplit = "heldout"\ntext = "cache only"\nrelevant = ["a.md"]\n\n'
        '[[query]]\nid = "dev-q"\nkind = "question"\nlang = "zh"\nsplit = "dev"\ntext = "注意力机制是什么"\n'
        'relevant = ["sub/d.md"]\n\n'
        '[[query]]\nid = "xheld-q"\nkind = "question"\nlang = "en"\nsplit = "heldout"\ntext = "what is a kv cache"\n'
        'relevant = ["c.md"]\n\n'
        '[[query]]\nid = "xheld-absent"\nkind = "absent"\nsplit = "heldout"\ntext = "kv"\n',
    )


def test_details_list_dev_queries_only(tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    queries = _split_query_file(tmp_path)
    argv = ["--corpus", str(tiny_corpus), "--queries", str(queries), "--systems", "grep-literal,grep-any,bm25"]
    out_json = tmp_path / "out.json"
    assert search_quality.main([*argv, "--details", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "dev-kw" in out and "dev-q" in out
    assert "xheld-" not in out
    result = json.loads(out_json.read_text(encoding="utf-8"))
    for system in result["systems"].values():
        assert {q["query_id"] for q in system["queries"]} <= {"dev-kw", "dev-q"}
        assert system["splits"]["heldout"]["question"]["queries"] == 1  # aggregates still cover held-out


def test_heldout_details_need_their_own_flag(
    tiny_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = _split_query_file(tmp_path)
    argv = ["--corpus", str(tiny_corpus), "--queries", str(queries), "--systems", "grep-literal"]
    assert search_quality.main([*argv, "--heldout-details"]) == 0
    out = capsys.readouterr().out
    assert "xheld-kw" in out and "xheld-absent" in out
    assert "dev-kw" not in out  # --details was not asked for
    assert "bm25 run as the reference" in out  # held-out questions exist, so the target needs BM25


# --- BM25 baseline ----------------------------------------------------------------------------------


def test_bm25_tokens_are_lowercased_words_numbers_and_han_without_punctuation() -> None:
    bm25_baseline: Any = importlib.import_module("bm25_baseline")
    tokens = bm25_baseline.tokenize("KV缓存, 7B 模型!")
    assert "kv" in tokens and "缓存" in tokens and "7b" in tokens and "模型" in tokens
    assert all(token.strip() and token not in {",", "!"} for token in tokens)


def test_bm25_ranks_by_term_weight_and_returns_only_matching_files(tiny_corpus: Path) -> None:
    bm25_baseline: Any = importlib.import_module("bm25_baseline")
    search = bm25_baseline.bm25(tiny_corpus)
    assert search("KV cache")[:2] == ["a.md", "b.md"]
    assert "sub/d.md" not in search("KV cache")
    assert search("注意力机制")[0] == "sub/d.md"
    assert search("区块链") == []
    assert search("   ") == []
