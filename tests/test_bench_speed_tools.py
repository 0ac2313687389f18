"""The speed benchmarks' own tools: percentile math, the first-time/repeated query timer, the engine adapter,
the child entry points, the editor save styles, the synthetic corpus, and the stdio driver on a tiny root."""

from __future__ import annotations

import importlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
common: Any = importlib.import_module("common")
search_speed: Any = importlib.import_module("search_speed")
synthetic_corpus: Any = importlib.import_module("synthetic_corpus")
sync_latency: Any = importlib.import_module("sync_latency")


def tiny_memory(folder: Path) -> Path:
    """Three plain notes, made a memory the server accepts."""
    root = folder / "notes"
    (root / "lecture").mkdir(parents=True)
    kv = "# KV缓存\n\n推理时缓存键值，避免重复计算。\n\n## pin_memory\n\nDataLoader 的 pin_memory 加速拷贝。\n"
    (root / "kv.md").write_text(kv, encoding="utf-8")
    (root / "lecture" / "attention.md").write_text("# 注意力机制\n\nattention weights softmax\n", encoding="utf-8")
    (root / "lecture" / "scaling.md").write_text("# Scaling laws\n\nChinchilla compute-optimal 缩放定律\n",
                                                 encoding="utf-8")
    common.make_memory(root)
    return root


# --- percentiles and report cells -------------------------------------------------------------------------


def test_percentile_interpolates_linearly_between_closest_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0, 50.0]
    assert common.percentile(values, 50) == 30.0
    assert common.percentile(values, 95) == pytest.approx(48.0)
    assert common.percentile(values, 0) == 10.0
    assert common.percentile(values, 100) == 50.0
    assert common.percentile([4.0, 1.0, 3.0, 2.0], 50) == pytest.approx(2.5)


def test_percentile_of_nothing_is_nan_and_a_spread_of_nothing_says_so() -> None:
    assert math.isnan(common.percentile([], 50))
    empty = common.spread([])
    assert empty.n == 0 and math.isnan(empty.p50)
    assert common.ms(empty.p50) == "–"
    assert common.verdict(empty.p95, 1.0) == "not measured"


def test_a_spread_holds_the_order_statistics() -> None:
    spread = common.spread([3.0, 1.0, 2.0])
    assert (spread.n, spread.p50, spread.min, spread.max) == (3, 2.0, 1.0, 3.0)


def test_ratio_is_after_over_before_and_a_dash_without_a_baseline() -> None:
    assert common.ratio(5.0, 10.0) == "0.50"
    assert common.ratio(0.5, 10.0) == "0.050"
    assert common.ratio(5.0, None) == "–"
    assert common.ratio(5.0, 0.0) == "–"


def test_milliseconds_keep_the_precision_the_number_deserves() -> None:
    assert common.ms(0.0004567) == "0.457"
    assert common.ms(0.004567) == "4.57"
    assert common.ms(0.04567) == "45.7"


# --- the query timer --------------------------------------------------------------------------------------


def test_each_query_is_timed_once_as_a_first_time_then_once_per_round() -> None:
    calls: list[tuple[str, str]] = []

    def system(name: str) -> Any:
        def search(query: str) -> int:
            calls.append((name, query))
            return len(query)

        return search

    times = common.time_queries({"a": system("a"), "b": system("b")}, ["x", "yy", "zzz"], rounds=2)
    for name in ("a", "b"):
        assert list(times[name].first) == ["x", "yy", "zzz"]
        assert {q: len(v) for q, v in times[name].repeated.items()} == {"x": 2, "yy": 2, "zzz": 2}
        assert times[name].hits == {"x": 1, "yy": 2, "zzz": 3}
        assert set(times[name].first_cpu) == {"x", "yy", "zzz"}
    first_pass = calls[:6]
    assert [q for _, q in first_pass] == ["x", "x", "yy", "yy", "zzz", "zzz"]  # interleaved query by query
    assert [n for n, _ in first_pass] == ["a", "b", "b", "a", "a", "b"]  # in a rotating order


def test_a_query_set_with_a_repeat_is_refused_because_its_second_run_is_not_a_first_time() -> None:
    with pytest.raises(ValueError, match="twice"):
        common.time_queries({"a": lambda q: 0}, ["x", "x"], rounds=0)


def test_query_times_survive_the_trip_through_json() -> None:
    times = common.time_queries({"a": lambda q: 1}, ["x", "y"], rounds=1)["a"]
    back = common.QueryTimes.from_json(json.loads(json.dumps(times.to_json())))
    assert back.first == times.first and back.repeated == times.repeated and back.hits == times.hits
    assert len(back.first_values()) == 2 and len(back.repeated_values()) == 2


def test_the_async_timer_measures_systems_behind_a_pipe_the_same_way() -> None:
    async def search(query: str) -> int:
        await anyio.sleep(0)
        return 1

    times = anyio.run(common.time_queries_async, {"a": search, "b": search}, ["x", "y"], 1)
    assert set(times["a"].first) == {"x", "y"} and times["a"].first_cpu == {}
    assert all(len(v) == 1 for v in times["b"].repeated.values())


def test_the_judged_query_set_has_no_repeats_so_every_query_gets_a_true_first_time() -> None:
    texts = common.query_texts()
    assert len(texts) > 150 and len(set(texts)) == len(texts)
    assert [q.text for q in search_speed.judged_queries()] == texts


# --- the engine adapter and the child entry points --------------------------------------------------------


def test_the_adapter_builds_searches_and_reindexes_through_the_new_api(tmp_path: Path) -> None:
    root = tiny_memory(tmp_path)
    common.use_repo()
    corpus = common.CorpusSearch(root)
    assert not corpus.old
    try:
        corpus.open()
        status = corpus.require_fresh(expected=3)
        assert status.files == 3
        assert [hit.path for hit in corpus.search("KV缓存").hits] == ["kv.md"]
        with (root / "kv.md").open("a", encoding="utf-8") as note:
            note.write("\nbenchmarker 新增\n")
        corpus.update(["kv.md"])
        assert [hit.path for hit in corpus.search("benchmarker").hits] == ["kv.md"]
        assert corpus.index_bytes() > 0 and corpus.segments() >= 1
        assert not corpus.sweep().indexed
    finally:
        corpus.close()


def test_a_scanning_engine_is_not_measurable() -> None:
    with pytest.raises(common.NotMeasurable):
        common.require_index("rebuilding")
    with pytest.raises(common.NotMeasurable):
        common.require_index("fresh", scanned=True)
    with pytest.raises(common.NotMeasurable, match="not the 4 notes"):
        common.require_index("fresh", files=3, expected=4)
    common.require_index("pending 2")


def child_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_the_speed_benchmarks_build_and_query_children_report_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tiny_memory(tmp_path)
    code = ["--code", str(REPO)]
    assert search_speed.main(["--child", "build", str(root), *code]) == 0
    (built,) = child_lines(capsys)
    assert built["files"] == 3 and built["index_bytes"] > 0 and built["wall"] > 0
    assert search_speed.main(["--child", "serve", str(root), "--rounds", "1", *code]) == 0
    started, served = child_lines(capsys)
    assert set(started) == {"imports", "open", "probe"}
    times = common.QueryTimes.from_json(served["times"])
    assert len(times.first) == len(common.query_texts())
    assert all(len(v) == 1 for v in times.repeated.values())
    assert times.hits["KV缓存"] >= 1


def test_the_writes_child_reports_reindex_times_and_the_index_size_after_every_save(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tiny_memory(tmp_path)
    args = ["--child", "writes", str(root), "--edits", "2", "--sweeps", "2", "--saves", "3", "--growth-note",
            "kv.md", "--code", str(REPO)]
    assert search_speed.main(args) == 0
    (writes,) = child_lines(capsys)
    assert len(writes["edits"]) == 2 and len(writes["sweeps"]) == 2
    assert len(writes["series"]) == 3 and all(size > 0 for size, _ in writes["series"])
    assert all(call <= found for call, found in zip(writes["save_calls"], writes["save_times"], strict=True))
    assert writes["notes"] == 3 and writes["final_index"] > 0


# --- synthetic corpus and editor saves --------------------------------------------------------------------


def test_note_i_is_the_same_at_every_corpus_size(tmp_path: Path) -> None:
    small = synthetic_corpus.generate(tmp_path / "small", 3)
    large = synthetic_corpus.generate(tmp_path / "large", 5)
    assert large[:3] == small
    note = "lecture-00/note-00002.md"
    assert (tmp_path / "small" / note).read_bytes() == (tmp_path / "large" / note).read_bytes()


def test_synthetic_queries_are_unique_for_the_first_time_pass() -> None:
    queries = synthetic_corpus.unique_queries()
    assert len(queries) == len(set(queries)) > 40


@pytest.mark.parametrize("style", ["plain", "atomic", "vim"])
def test_each_editor_save_style_leaves_only_the_new_note_behind(tmp_path: Path, style: str) -> None:
    note = tmp_path / "note.md"
    note.write_text("old\n", encoding="utf-8")
    sync_latency.SAVERS[style](note, "new\n")
    assert note.read_text(encoding="utf-8") == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["note.md"]


# --- the stdio driver -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_the_stdio_driver_waits_for_the_index_then_times_each_query_first_and_repeated(
    tmp_path: Path, private_cache: Path
) -> None:
    root = tiny_memory(tmp_path)
    stack = common.Stack("after", REPO, private_cache)

    async def drive() -> tuple[float, Any, float | None]:
        async with common.StdioSearch(stack, root) as server:
            ready = await server.wait_ready(timeout=60)
            times = await common.time_queries_async({"stdio": server.search}, ["KV缓存", "注意力机制"], 1)
            return ready, times["stdio"], server.peak_rss_mb()

    ready, times, rss = anyio.run(drive)
    assert ready >= 0
    assert times.hits == {"KV缓存": 1, "注意力机制": 1}
    assert set(times.repeated) == {"KV缓存", "注意力机制"}
    assert rss is not None and rss > 10
