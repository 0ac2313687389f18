"""The search engine over small memory roots: ranking, filters, snippets, aliases, query safety, freshness."""

import os
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from memory_schema.errors import InvalidInput
from memory_schema.layout import PRESETS
from server.memory import ProjectMemory
from server.search import IndexService, SearchEngine, SearchResults
from server.search.glossary import Glossary
from server.search.request import search_request
from server.store import NoteStore
from support import Searcher, find

FILLER = "这一段讲的是别的内容，和查询无关。" * 6

NOTES = {
    "AI助手工作记忆.md": "# AI助手工作记忆\n\n## 当前进度\n\n正在学习 Lecture 10 的推理优化，KV缓存还没完全理解。\n",
    "学习进度.md": "# 学习进度\n\n- [x] Lecture 01\n- [ ] Lecture 10 推理\n",
    "深度讨论/KV缓存深度讨论.md": (
        "---\ntags: [inference, KV]\nlecture: 10\n---\n# KV缓存深度讨论\n\n"
        "## 为什么需要KV缓存\n\n在推理阶段，**KV缓存**把已经计算过的键和值存起来，避免重复计算。\n\n"
        "## 显存占用\n\nKV cache 的显存占用与序列长度和层数成正比。\n"
    ),
    "学习笔记/lecture-03-attention.md": (
        "多头注意力机制（Multi-Head Attention）是 Transformer 的核心。\n\n"
        "## FlashAttention\n\nFlashAttention 用分块（tiling）减少显存读写。\n\n"
        "```python\nloader = DataLoader(ds, pin_memory=True)\n```\n"
    ),
    "学习笔记/dataloader.md": "# DataLoader 技巧\n\n把 pin memory 打开可以加快主机到 GPU 的拷贝。\n",
    "学习笔记/tokenizer.md": "# 分词器笔记\n\n分词器把文本切成词元，BPE 是常见算法。\n",
    "学习笔记/梯度累积.md": "# 梯度累积\n\n把几个小批次的梯度加起来再更新。\n" + FILLER,
    "学习笔记/训练杂记.md": "# 训练杂记\n\n" + FILLER + "顺便提到梯度累积。\n" + FILLER,
    "学习笔记/a-scattered.md": "# 笔记甲\n\n残差连接很重要。" + FILLER + "层归一化放在后面。\n",
    "学习笔记/b-together.md": "# 笔记乙\n\n残差连接和层归一化放在一起。" + FILLER + "\n",
}


def write(root: Path, relpath: str, text: str) -> None:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_root(folder: Path) -> Path:
    for relpath, text in NOTES.items():
        write(folder, relpath, text)
    return folder


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "memory")


@pytest.fixture
def engine(root: Path) -> Iterator[Searcher]:
    """An engine of one's own, for tests that change notes."""
    searcher = Searcher(root)
    searcher.warm_up()
    yield searcher
    searcher.close()


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
    """One engine for the tests that only search."""
    searcher = Searcher(make_root(tmp_path_factory.mktemp("shared")))
    searcher.warm_up()
    yield searcher
    searcher.close()


def handles(engine: Searcher, query: str, **kwargs: object) -> list[str]:
    return [hit.handle for hit in engine.search(query, **kwargs).hits]  # type: ignore[arg-type]


def paths(engine: Searcher, query: str, **kwargs: object) -> list[str]:
    return [hit.path for hit in engine.search(query, **kwargs).hits]  # type: ignore[arg-type]


# --- results ---------------------------------------------------------------------------------------------


def test_the_index_lives_in_the_users_cache_and_nothing_is_added_to_the_notes(
    engine: Searcher, root: Path, private_cache: Path
) -> None:
    assert sorted(p.name for p in root.iterdir()) == sorted({relpath.split("/")[0] for relpath in NOTES})
    assert private_cache in engine.store.cache.index_dir.parents and engine.store.cache.index_dir.is_dir()
    status = engine.status()
    assert (status.state, status.files, status.pending) == ("fresh", len(NOTES), 0)
    assert status.sections >= len(NOTES)


def test_a_hit_names_its_section_kind_lecture_and_handle(shared: Searcher) -> None:
    hit = shared.search("为什么需要KV缓存").hits[0]
    assert hit.path == "深度讨论/KV缓存深度讨论.md"
    assert hit.heading == "KV缓存深度讨论/为什么需要KV缓存"
    assert hit.handle == "深度讨论/KV缓存深度讨论.md#KV缓存深度讨论/为什么需要KV缓存"
    assert (hit.kind, hit.lecture) == ("discussion", "Lecture 10")
    assert "**KV缓存**" in hit.snippet


def test_chinese_english_and_full_width_spellings_find_the_same_note(shared: Searcher) -> None:
    for query in ("KV缓存", "KV Cache", "ＫＶ缓存", "kv-cache"):
        assert paths(shared, query)[0] == "深度讨论/KV缓存深度讨论.md", query


def test_a_word_is_found_inside_a_longer_chinese_phrase(shared: Searcher) -> None:
    assert "学习笔记/lecture-03-attention.md" in paths(shared, "注意力")


def test_pin_memory_finds_the_identifier_and_the_two_words(shared: Searcher) -> None:
    found = paths(shared, "pin_memory")
    assert set(found) >= {"学习笔记/lecture-03-attention.md", "学习笔记/dataloader.md"}


def test_a_file_without_a_heading_is_titled_by_its_name(shared: Searcher) -> None:
    hit = shared.search("lecture 03 attention").hits[0]
    assert hit.path == "学习笔记/lecture-03-attention.md"


def test_a_title_hit_ranks_above_a_passing_mention(shared: Searcher) -> None:
    assert paths(shared, "梯度累积")[:2] == ["学习笔记/梯度累积.md", "学习笔记/训练杂记.md"]


def test_query_words_close_together_rank_above_scattered_ones(shared: Searcher) -> None:
    assert paths(shared, "残差连接 层归一化")[:2] == ["学习笔记/b-together.md", "学习笔记/a-scattered.md"]


def test_one_section_per_file_unless_all_sections_are_asked_for(shared: Searcher) -> None:
    best = handles(shared, "KV缓存", scope="discussions")
    every = handles(shared, "KV缓存", scope="discussions", all_sections=True)
    assert len(best) == 1
    assert len(every) >= 2 and best[0] == every[0]


def test_an_absent_topic_returns_nothing(shared: Searcher) -> None:
    for query in ("区块链共识算法", "量子纠错", "blockchain consensus"):
        assert shared.search(query).hits == [], query


def test_a_query_word_found_in_no_note_is_named_in_the_notice(shared: Searcher) -> None:
    results = shared.search("KV缓存 optimzation")
    assert results.hits == []
    assert results.notice and "optimzation" in results.notice


def test_an_adverb_no_note_writes_is_the_askers_wording_not_a_missing_name(shared: Searcher) -> None:
    """suddenly is found in no note: a description's adverb, not a name the notes lack."""
    results = shared.search("KV缓存 显存 suddenly")
    assert results.hits and "suddenly" not in (results.notice or ""), results


def test_a_refused_keyword_query_suggests_the_keywords_the_notes_hold(shared: Searcher) -> None:
    """Nothing is returned for what no note holds, but the search of the other keywords is suggested when it
    finds something, so the model retries with them instead of concluding the notes lack the rest."""
    refused = shared.search("KV缓存 区块链")
    found = len(shared.search("KV缓存").hits)
    assert refused.hits == [] and refused.notice, refused
    assert refused.notice.endswith(f"Searched without it, 'KV缓存' finds {found} notes."), refused.notice
    for query in ("区块链 共识算法", "KV缓存 和 区块链 有什么区别", "区块链"):  # nothing left; a question; one word
        results = shared.search(query)
        assert results.hits == [] and "Searched without" not in (results.notice or ""), (query, results.notice)


def test_the_limit_caps_the_hits(shared: Searcher) -> None:
    assert len(shared.search("学习", limit=1).hits) <= 1


# --- filters ---------------------------------------------------------------------------------------------


def test_scope_keeps_to_one_kind_of_document(shared: Searcher) -> None:
    assert paths(shared, "KV缓存", scope="discussions") == ["深度讨论/KV缓存深度讨论.md"]
    assert set(paths(shared, "KV缓存", scope="memory")) == {"AI助手工作记忆.md"}
    assert "深度讨论/KV缓存深度讨论.md" not in paths(shared, "KV缓存", scope="notes")


def test_lecture_filter_takes_a_number_or_a_label(shared: Searcher) -> None:
    assert paths(shared, "显存", lecture=10) == ["深度讨论/KV缓存深度讨论.md"]
    assert paths(shared, "显存", lecture="Lecture 03") == ["学习笔记/lecture-03-attention.md"]
    assert paths(shared, "显存", lecture="第3讲") == ["学习笔记/lecture-03-attention.md"]


def test_tags_filter_keeps_notes_with_any_of_the_tags(shared: Searcher) -> None:
    assert paths(shared, "显存", tags=["kv", "unused"]) == ["深度讨论/KV缓存深度讨论.md"]
    assert paths(shared, "显存", tags=["unused"]) == []


def test_a_filter_that_empties_the_results_is_named_with_what_matches_without_it(shared: Searcher) -> None:
    """No note is of Lecture 99, and no discussion of Lecture 03 holds KV缓存: the answer says the filters, not
    the notes, found nothing, and how many notes match without them. An absent topic stays absent."""
    for options, named, dropped in (({"lecture": 99}, "in Lecture 99", "without lecture"),
                                    ({"scope": "discussions", "lecture": 3}, "in the discussions of Lecture 03",
                                     "without scope and lecture"),
                                    ({"tags": ["unused"]}, "tagged unused", "without tags")):
        results = shared.search("KV缓存", **options)
        assert results.hits == [] and results.notice, options
        assert f"nothing {named} matches" in results.notice and dropped in results.notice, results.notice
        unfiltered = len(shared.search("KV缓存").hits)
        assert f"{unfiltered} notes match" in results.notice, results.notice
    absent = shared.search("区块链共识算法", lecture=99)
    assert absent.hits == [] and absent.notice and "区块链" in absent.notice and "filters" not in absent.notice


def test_since_keeps_notes_modified_on_or_after_the_date(root: Path) -> None:
    old = (datetime.now() - timedelta(days=30)).timestamp()
    os.utime(root / "深度讨论/KV缓存深度讨论.md", (old, old))
    engine = Searcher(root)
    try:
        recent = date.today() - timedelta(days=2)
        assert "深度讨论/KV缓存深度讨论.md" not in paths(engine, "KV缓存", since=recent)
        assert "深度讨论/KV缓存深度讨论.md" in paths(engine, "KV缓存", since=datetime.now() - timedelta(days=60))
    finally:
        engine.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scope": "everything"}, "scope"),
        ({"limit": 0}, "limit"),
        ({"limit": 51}, "limit"),
        ({"lecture": "someday"}, "lecture"),
        ({"since": "yesterday"}, "since"),
    ],
)
def test_invalid_arguments_are_refused_with_a_clear_message(
    shared: Searcher, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        shared.search("KV缓存", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_an_empty_query_is_refused(shared: Searcher, query: str) -> None:
    with pytest.raises(InvalidInput, match="empty"):
        shared.search(query)


# --- queries never fail on syntax ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        *['"KV缓存', "KV缓存 AND OR NOT", "显存:KV缓存", "(KV缓存", "KV缓存)", "[KV缓存", "{KV缓存}", "KV*", "KV?"],
        *["KV缓存~", "KV缓存^", "-KV缓存 +显存", "“KV缓存”", "KV缓存 \x00", "KV缓存\\", "KV缓存 /"],
    ],
)
def test_query_syntax_characters_are_searched_as_plain_text(shared: Searcher, query: str) -> None:
    results = shared.search(query)
    assert results.index_state == "fresh"
    assert results.hits and results.hits[0].path == "深度讨论/KV缓存深度讨论.md"


@pytest.mark.parametrize("query", ["\\", "/", "'", "NOT", "*", "?", "~2", "^3", "AND(", "a:b:c", "((((", '"""'])
def test_queries_made_of_syntax_alone_give_an_answer_not_an_error(shared: Searcher, query: str) -> None:
    assert shared.search(query).index_state == "fresh"


def test_a_quoted_phrase_must_occur_as_written(shared: Searcher) -> None:
    assert "学习笔记/dataloader.md" in paths(shared, '"pin memory"')
    results = shared.search('"memory pin GPU"')  # its words are in the note, not as written
    assert results.hits == []
    assert results.notice and "“memory pin gpu”" in results.notice and "without the quotes" in results.notice


def test_a_word_jieba_cuts_after_a_function_character_keeps_that_character(tmp_path: Path) -> None:
    # jieba cuts 向量化 as 向|量化 and 过拟合 as 过|拟合: without 向 and 过 they were searched as 量化 and 拟合.
    root = root_with(tmp_path, {
        "学习笔记/vectorize.md": "# 向量化\n\n把循环改写成向量化的张量运算。\n",
        "学习笔记/quantize.md": "# 量化\n\n把权重量化成八位整数。\n",
        "学习笔记/overfit.md": "# 过拟合\n\n训练集上好、验证集上差就是过拟合。\n",
        "学习笔记/fit.md": "# 拟合\n\n用幂律拟合损失曲线。\n",
    })
    for searcher in warm_searcher(root):
        results = searcher.search("向量化")
        assert [hit.path for hit in results.hits][:1] == ["学习笔记/vectorize.md"]
        assert [hit.match for hit in results.hits if hit.path == "学习笔记/quantize.md"] in ([], ["partial"])
        assert [hit.path for hit in searcher.search("过拟合").hits] == ["学习笔记/overfit.md"]
        assert "学习笔记/overfit.md" not in [hit.path for hit in searcher.search("量化").hits]


def test_up_and_down_begin_a_word_only_where_no_noun_comes_before_them(tmp_path: Path) -> None:
    # jieba cuts 上|采样 and 下|采样: with 上 and 下 dropped as stop characters both were searched as 采样.
    root = root_with(tmp_path, {
        "学习笔记/upsample.md": "# 上采样\n\n上采样把特征图放大两倍。\n",
        "学习笔记/downsample.md": "# 池化\n\n池化层和下采样都把特征图缩小。\n",
        "学习笔记/gpu.md": "# 运行\n\n模型在GPU上运行，激活放在显存上分配。\n",
    })
    for searcher in warm_searcher(root):
        assert [hit.path for hit in searcher.search("上采样").hits] == ["学习笔记/upsample.md"]
        assert [hit.path for hit in searcher.search("下采样").hits] == ["学习笔记/downsample.md"]
        # After a noun they stay function characters: GPU上运行 is about running, 显存上分配 about allocating.
        assert [hit.path for hit in searcher.search("显存分配").hits] == ["学习笔记/gpu.md"]


def test_a_reference_list_is_found_but_ranks_below_the_prose_that_explains_its_topic(tmp_path: Path) -> None:
    root = root_with(tmp_path, {
        "学习笔记/gpu.md": ("# GPU 优化\n\n## 6.7 分块计算\n\nFlashAttention 的原理是把注意力分块计算，"
                          f"在片上内存里完成 softmax。{FILLER}\n\n## 6. 参考资料\n\n"
                          "- [FlashAttention原理](https://arxiv.org/pdf/2205.14135)\n- [Paged Attention](https://x.org)\n"),
    })
    for searcher in warm_searcher(root):
        # One section a note: the one that explains, where the short list had scored higher.
        headings = [hit.heading for hit in searcher.search("FlashAttention 原理").hits if hit.path == "学习笔记/gpu.md"]
        assert headings == ["GPU 优化/6.7 分块计算"], headings
        assert [hit.heading for hit in searcher.search("Paged Attention").hits][:1] == ["GPU 优化/6. 参考资料"]


def test_a_word_with_a_letter_of_its_own_is_found_only_as_written_or_joined(tmp_path: Path) -> None:
    root = root_with(tmp_path, {
        "学习笔记/code.md": "# Code\n\nDon't test it twice.\n\n```python\nwith open(path) as f:\n    score = 1\n```\n",
        "学习笔记/rl.md": "# RL\n\nQ-learning updates a table; kNN looks up neighbours.\n",
    })
    for searcher in warm_searcher(root):
        for query in ("t-test", "F-score"):  # the letter t of don't, the f of `as f`, each beside the word
            results = searcher.search(query)
            assert results.hits == [] and results.absent == [query], results  # named as typed
        assert [hit.path for hit in searcher.search("Q-learning").hits] == ["学习笔记/rl.md"]
        assert [hit.path for hit in searcher.search("k-NN").hits] == ["学习笔记/rl.md"]
    assert scanned(root)("t-test") == [] and scanned(root)("k-NN") == ["学习笔记/rl.md"]


def _lecture(sections: int, headings: dict[int, str], bodies: dict[int, str]) -> str:
    """A long note of `sections` sections, those numbered in `headings` and `bodies` holding the given text, the
    rest filler."""
    parts = [f"## 第{number}节 {headings.get(number, '其他')}\n\n{bodies.get(number, '')}{FILLER}\n"
             for number in range(1, sections + 1)]
    return "# 第十二讲 评估\n\n" + "\n".join(parts)


def test_a_session_is_found_by_its_word(tmp_path: Path) -> None:
    root = root_with(tmp_path, {"学习笔记/流程.md": "# 工作流程\n\n每次会话开始时先读工作记忆，会话结束前写回进度。\n"})
    for searcher in warm_searcher(root):
        for query in ("会话", "会话开始", "会话 进度"):
            assert [hit.path for hit in searcher.search(query).hits] == ["学习笔记/流程.md"], query
    assert scanned(root)("会话") == ["学习笔记/流程.md"]


def test_keywords_partly_matched_rank_by_how_many_they_hold_before_the_rarest_one_alone(tmp_path: Path) -> None:
    common = {f"学习笔记/gpu{n}.md": f"# GPU {n}\n\n{word}。{FILLER}\n"
              for n, word in enumerate(["矩阵乘法", "分块", "共享内存"] * 8)}
    root = root_with(tmp_path, {
        **common,
        # All but the rarest keyword: held to no rarity, three of four is a partial match.
        "学习笔记/tiling.md": "# 计算\n\n矩阵乘法按块算：分块以后，每块放进共享内存。\n",
        # The rarest keyword alone, for another reason.
        "学习笔记/epochs.md": "# 多轮训练\n\n数据复用：同一份语料训练好几轮。\n",
    })
    for searcher in warm_searcher(root):
        results = searcher.search("矩阵乘法 分块 共享内存 数据复用")
        assert [hit.path for hit in results.hits][:2] == ["学习笔记/tiling.md", "学习笔记/epochs.md"], results
        assert {hit.match for hit in results.hits} == {"partial"}
        assert results.hits[0].missing == ["数据复用"]


def test_six_keywords_admit_a_partial_match_lacking_two_in_the_index_and_the_scan(tmp_path: Path) -> None:
    """All but one of many keywords is too strict: the tiling note never writes data reuse, and its rarest word
    (reuse) is what it lacks. Two of six may be lacked; three may not."""
    common = {f"notes/gpu{n}.md": f"# GPU {n}\n\n{word}. {FILLER}\n"
              for n, word in enumerate(["tiled matrix", "shared memory", "multiplication"] * 6)}
    root = root_with(tmp_path, {
        **common,
        "notes/loader.md": "# Loader\n\nThe data loader reads batches.\n",
        "notes/epochs.md": "# Epochs\n\nData reuse across epochs.\n",
        "notes/tiling.md": "# Tiling\n\nA tiled matrix multiplication loads each tile into shared memory.\n",
        "notes/tiles.md": "# Tiles\n\nA tiled matrix layout, kept in memory.\n",  # three of six: no match
    })
    query = "tiled matrix multiplication shared memory data reuse"
    for searcher in warm_searcher(root):
        results = searcher.search(query)
        found = [hit.path for hit in results.hits]
        assert found[0] == "notes/tiling.md" and "notes/tiles.md" not in found, results
        assert results.hits[0].match == "partial" and set(results.hits[0].missing) == {"data", "reuse"}
    assert scanned(root)(query)[0] == "notes/tiling.md"


def test_keywords_lacking_a_name_are_not_answered_by_one_keyword_in_passing() -> None:
    """SQL query optimizer join order, where the notes hold optimizer and join only apart: partial matches each
    holding one keyword (SQL in passing) answer nothing of the rest; one holding two keywords may. Questions
    are weighed otherwise (`partial_matches_miss_the_topic`)."""
    from server.search.absence import Absence, partial_matches_miss_the_topic
    from server.search.glossary import Glossary
    from server.search.planning import expanded_plan

    plan = expanded_plan("SQL query optimizer join order", Glossary.builtin())
    lacked = Absence({2, 3}, ["optimizer join"], [{2, 3}])
    assert partial_matches_miss_the_topic(plan, lacked, [], [("sql",), ("sql",)])
    assert not partial_matches_miss_the_topic(plan, lacked, [], [("sql",), ("join", "order")])
    assert not partial_matches_miss_the_topic(plan, Absence(set(), [], []), [], [("sql",)])  # nothing lacked
    question = expanded_plan("how does the SQL query optimizer pick a join order", Glossary.builtin())
    held = [True] * len(question.units)  # a question is weighed by its own rules, not by one keyword held
    assert not partial_matches_miss_the_topic(question, lacked, held, [("sql",)])


def test_the_scan_returns_keywords_partial_matches_as_the_index_does(tmp_path: Path) -> None:
    """While an index is built, the scan answers: keywords no section holds whole still find their partial
    matches, ordered by how many of the keywords they hold."""
    common = {f"学习笔记/gpu{n}.md": f"# GPU {n}\n\n{word}。{FILLER}\n"
              for n, word in enumerate(["矩阵乘法", "分块", "共享内存"] * 3)}
    root = root_with(tmp_path, {
        **common,
        "学习笔记/tiling.md": "# 计算\n\n矩阵乘法按块算：分块以后，每块放进共享内存。\n",
        "学习笔记/epochs.md": "# 多轮训练\n\n数据复用：同一份语料训练好几轮。\n",
        "学习笔记/reuse.md": "# 复用\n\n分块之后数据复用更好。\n",
    })
    query = "矩阵乘法 分块 共享内存 数据复用"
    for searcher in warm_searcher(root):
        indexed = [hit.path for hit in searcher.search(query).hits]
    assert indexed == ["学习笔记/tiling.md", "学习笔记/reuse.md"]  # three keywords, then two with the rarest
    assert scanned(root)(query)[:2] == indexed  # the scan weighs words by notes, not sections: it may add one


def test_the_scan_puts_partial_matches_holding_the_name_first_as_the_index_does(tmp_path: Path) -> None:
    """The keywords' name is what they are about: a section holding it is a partial match however little else it
    holds, before one holding the other words without it, in the index and the scan alike."""
    notes = {f"学习笔记/rope{n:02d}.md": f"# 笔记{n}\n\nRoPE 是一种位置编码。{FILLER}\n" for n in range(12)}
    notes.update({f"学习笔记/other{n:02d}.md": f"# 其他{n}\n\n{FILLER}\n" for n in range(12)})
    notes["学习笔记/ext.md"] = "# 长度外推\n\nRoPE 外推时用插值。\n"
    notes["学习笔记/interp.md"] = "# 插值\n\n位置插值与外推。\n"
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        indexed = [hit.path for hit in searcher.search("RoPE 外推 插值").hits]
    assert indexed[:2] == ["学习笔记/ext.md", "学习笔记/rope00.md"] and "学习笔记/interp.md" not in indexed
    assert scanned(root)("RoPE 外推 插值") == indexed


def test_two_common_keywords_of_three_are_no_partial_match(tmp_path: Path) -> None:
    notes = {f"学习笔记/杂{n:02d}.md": f"# 杂记{n}\n\n模型训练时要注意显存。{FILLER}\n" for n in range(30)}
    notes.update({f"学习笔记/别{n:02d}.md": f"# 别的{n}\n\n{FILLER}\n" for n in range(30)})
    notes["学习笔记/distill.md"] = ("# 知识蒸馏\n\n## 做法\n\n蒸馏：让学生网络模仿教师网络的输出分布。\n\n"
                                  "## 背景\n\n大模型太贵。\n")
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        assert [hit.path for hit in searcher.search("模型 训练 蒸馏").hits] == ["学习笔记/distill.md"]
    assert scanned(root_with(tmp_path / "scan", notes))("模型 训练 蒸馏") == ["学习笔记/distill.md"]


_DEVOTED = "# 指标\n\n" + "\n".join(  # a note on perplexity: every section speaks of it, in its body only
    f"## {heading}\n\n{body}困惑度{FILLER}\n" for heading, body in
    [("定义", "定义："), ("计算", "计算方法："), ("局限", "它的局限："), ("例子", "一个例子："),
     ("小结", "小结："), ("误区", "常见误区："), ("对比", "对比：")])


def test_a_note_returning_to_the_topic_section_after_section_ranks_above_one_naming_it_once(tmp_path: Path) -> None:
    root = root_with(tmp_path, {
        "学习笔记/metrics.md": _DEVOTED,
        # A long lecture whose one section names it three times, and one more in passing.
        "学习笔记/lecture.md": _lecture(20, {}, {3: "困惑度，困惑度，还是困惑度。", 9: "顺带一提困惑度。"}),
    })
    for searcher in warm_searcher(root):
        assert [hit.path for hit in searcher.search("困惑度").hits] == ["学习笔记/metrics.md", "学习笔记/lecture.md"]
    assert scanned(root)("困惑度") == ["学习笔记/metrics.md", "学习笔记/lecture.md"]


def test_a_note_lifted_by_its_other_sections_is_found_whatever_the_limit(tmp_path: Path) -> None:
    """Its evidence counts before the leading sections are chosen: the first ten are the first ten of fifty."""
    notes = {f"学习笔记/杂记{n:02d}.md": f"# 杂记\n\n困惑度和困惑度。{FILLER}\n" for n in range(60)}
    root = root_with(tmp_path, {**notes, "学习笔记/metrics.md": _DEVOTED})
    for searcher in warm_searcher(root):
        first_ten = [hit.path for hit in searcher.search("困惑度", limit=10).hits]
        assert first_ten[0] == "学习笔记/metrics.md"
        assert [hit.path for hit in searcher.search("困惑度", limit=50).hits][:10] == first_ten


@pytest.mark.parametrize("sections", [10, 30])
def test_a_long_note_whose_title_names_the_topic_gains_a_bounded_evidence(
    tmp_path: Path, sections: int
) -> None:
    """A title is part of every section: all sections of the long lecture match through it, and uncapped their
    evidence grew with their number (EVIDENCE_CAP)."""
    root = root_with(tmp_path, {
        "学习笔记/devoted.md": "# 困惑度\n\n" + "\n".join(
            f"## {heading}\n\n{body}困惑度{FILLER}\n" for heading, body in
            [("定义", "定义："), ("计算", "计算方法："), ("局限", "它的局限：")]),
        "学习笔记/lecture.md": "# 评估指标：困惑度、BLEU等\n\n" + "\n".join(
            f"## 第{n}节 其他\n\n{'困惑度。' if n == 3 else ''}{FILLER}\n" for n in range(1, sections + 1)),
    })
    for searcher in warm_searcher(root):
        assert [hit.path for hit in searcher.search("困惑度").hits][:1] == ["学习笔记/devoted.md"]


def test_note_evidence_counts_the_other_sections_of_a_note_by_the_share_of_it_they_make() -> None:
    import numpy as np

    from server.search.note_evidence import EVIDENCE_CAP, NOTE_EVIDENCE, raise_scores

    score = np.array([2.0, 1.0, 1.0, 4.0, 1.0], dtype=np.float32)
    held = np.array([1.0, 1.0, 0.5, 1.0, 1.0], dtype=np.float32)
    note = np.array([0, 0, 0, 1, 1], dtype=np.int32)  # three sections of note 0, two of note 1
    size = np.array([3, 3, 3, 20, 20], dtype=np.int32)  # note 0 is all about it; note 1 has 18 more sections
    raised = raise_scores(score, held, note, size)
    evidence = [NOTE_EVIDENCE * (1.0 + 0.5), NOTE_EVIDENCE * (2.0 + 0.5), NOTE_EVIDENCE * 3.0,
                NOTE_EVIDENCE * 1.0 * 2 / 20, NOTE_EVIDENCE * 4.0 * 2 / 20]
    capped = [own + min(gain, EVIDENCE_CAP * own) for own, gain in zip(score, evidence, strict=True)]
    assert np.allclose(raised, capped), raised
    few = raise_scores(np.array([1.0] * 8, np.float32), np.ones(8, np.float32), np.zeros(8, np.int32),
                       np.full(8, 8, np.int32))
    assert np.allclose(few, [1.0 + EVIDENCE_CAP]), few  # seven others: 5.6 capped
    lone = raise_scores(np.array([3.0], np.float32), np.array([1.0], np.float32), np.array([0], np.int32),
                        np.array([5], np.int32))
    assert np.allclose(lone, [3.0])  # nothing else in its note: its own score


GENERAL_TERMS = {  # notes written in Chinese, asked about in English keywords
    "学习笔记/rope.md": "# 位置\n\n把旋转矩阵作用在查询和键上。\n",
    "学习笔记/tying.md": "# 嵌入\n\n输入嵌入和输出层权重共享，省下一份参数。\n",
    "学习笔记/dropout.md": "# 正则\n\n预训练时丢弃率通常设为零。\n",
    "学习笔记/softmax.md": "# 溢出\n\n指数很大时数值不稳定，先减去最大值。\n",
    "学习笔记/mcts.md": "# 搜索\n\n蒙特卡洛树搜索在推理时展开多条路径。\n",
    "学习笔记/test-time.md": "# Test time\n\nTest-time compute spends more FLOPs while decoding.\n",
}


@pytest.mark.parametrize(("query", "path"), [
    ("rotation matrix", "学习笔记/rope.md"),
    ("weight tying", "学习笔记/tying.md"),
    ("dropout rate", "学习笔记/dropout.md"),
    ("numerically unstable", "学习笔记/softmax.md"),
    ("Monte Carlo tree search", "学习笔记/mcts.md"),
    ("测试时计算", "学习笔记/test-time.md"),  # and a Chinese query over a note in English
])
def test_english_keywords_find_notes_written_in_chinese_through_general_terms(
    tmp_path: Path, query: str, path: str
) -> None:
    for searcher in warm_searcher(root_with(tmp_path, GENERAL_TERMS)):
        assert [hit.path for hit in searcher.search(query).hits][:1] == [path]


CHATTY = {
    "学习笔记/kv.md": "# KV cache\n\nKV cache 把已经算过的键和值存下来，解码时不再重算。\n",
    "学习笔记/bpe.md": "# BPE\n\nBPE 的合并规则按出现次数从高到低学习，merge rules are applied in order.\n",
    "学习笔记/dpo.md": "# DPO\n\nThe DPO loss follows from the RLHF objective in a closed form.\n",
    "学习笔记/rope.md": "# RoPE\n\nRoPE rotates queries and keys by an angle set by the position.\n",
    "学习笔记/moe.md": "# MoE\n\nA MoE layer routes each token to a few experts.\n",
    "学习笔记/facts.md": "# Facts\n\nHallucination: an LLM states facts that are not true.\n",
}


@pytest.mark.parametrize(("query", "path"), [
    ("KV cache咋回事", "学习笔记/kv.md"),  # 咋: how, in speech
    ("讲讲KV cache呗", "学习笔记/kv.md"),  # 呗: a particle, not a character of cache
    ("ELI5 KV cache", "学习笔记/kv.md"),
    ("搞不懂BPE合并规则", "学习笔记/bpe.md"),  # 搞不懂: the asker's state, not the topic
    ("BPE merge rules confuse me lol", "学习笔记/bpe.md"),
    ("derive the DPO loss", "学习笔记/dpo.md"),  # a request, and derive: its noun is derivation
    ("give me an analogy for KV cache", "学习笔记/kv.md"),
    ("explain RoPE intuitively", "学习笔记/rope.md"),
    ("noob question: what is MoE", "学习笔记/moe.md"),  # the question after a colon
    ("why do LLMs hallucinate", "学习笔记/facts.md"),  # the verb of hallucination
])
def test_chatty_wording_around_a_topic_frames_it(tmp_path: Path, query: str, path: str) -> None:
    for searcher in warm_searcher(root_with(tmp_path, CHATTY)):
        results = searcher.search(query)
        assert path in [hit.path for hit in results.hits], results


def test_two_english_keywords_alone_are_a_name_written_one_after_another(tmp_path: Path) -> None:
    root = root_with(tmp_path, {
        "学习笔记/mup.md": "# muP\n\nHyperparameter transfer across model widths keeps the tuned learning rate.\n",
        "学习笔记/dedup.md": "# Dedup\n\nMinHash comes from the book on mining massive data sets.\n",
        "学习笔记/finetune.md": "# Fine-tuning\n\nTransfer learning reuses a pretrained model.\n",
        "学习笔记/ddp.md": "# DDP\n\n每个进程的 world size 决定模型怎么切。\n",
        "学习笔记/evals.md": "# Agent Benchmarks\n\nSWE-bench asks an agent to fix issues; each benchmark differs.\n",
        "学习笔记/moe.md": "# MoE\n\nStandard top-k routing sends each token to k experts.\n",
    })
    for searcher in warm_searcher(root):
        # A name's plural is the same name: Agent Benchmarks is agent benchmark.
        assert [hit.path for hit in searcher.search("agent benchmark").hits][:1] == ["学习笔记/evals.md"]
        # top-k takes a position for each part in a note, however it is searched: routing follows its last.
        assert [hit.path for hit in searcher.search("top-k routing").hits][:1] == ["学习笔记/moe.md"]
        results = searcher.search("data mining")  # both words in one clause of dedup.md, never as the name
        assert results.hits == [] and results.absent == ["data mining"], results
        results = searcher.search("world model")  # world beside 模型, the alias of model: no way to write it
        assert results.hits == [] and results.absent == ["world model"], results
        assert [hit.path for hit in searcher.search("transfer learning").hits][:1] == ["学习笔记/finetune.md"]
    scan = scanned(root)
    assert scan("data mining") == [] and scan("transfer learning")[:1] == ["学习笔记/finetune.md"]
    assert scan("world model") == [] and scan("agent benchmark")[:1] == ["学习笔记/evals.md"]


def test_html_layout_in_a_note_is_not_searched_as_its_words(tmp_path: Path) -> None:
    root = root_with(tmp_path, {"学习笔记/cover.md": (
        '# 封面\n\n<div align="center"><img src="logo.png" width="300"/></div>\n<!-- draft -->\n'
        "注意力把每个词元和其他词元联系起来。<br>\n")})
    for searcher in warm_searcher(root):
        assert searcher.search("center div").hits == [] and searcher.search("logo width").hits == []
        assert searcher.search("draft").hits == []
        hits = searcher.search("注意力 词元").hits
        assert "学习笔记/cover.md" in [hit.path for hit in hits]
        assert all("<div" not in hit.snippet and "<br>" not in hit.snippet for hit in hits)  # nor shown


def test_an_images_path_is_not_searched_as_words_and_not_shown(tmp_path: Path) -> None:
    root = root_with(tmp_path, {"学习笔记/gpu.md": (
        "# 内存层次\n\n![张量内存](../images/3-9-tensor-memory.png) 和 ![](assets/IPvCcUZMLcyI1NS.png)\n\n"
        "SRAM 比 HBM 快得多。\n")})
    for searcher in warm_searcher(root):
        assert searcher.search("tensor memory png").hits == [] and searcher.search("IPvCcUZMLcyI1NS").hits == []
        results = searcher.search("张量内存")  # the alt text is the image's words
        assert [hit.path for hit in results.hits] == ["学习笔记/gpu.md"]
        assert "images/" not in results.hits[0].snippet and "![**张量内存**]" in results.hits[0].snippet


def test_a_question_quoting_words_no_note_writes_finds_the_words_and_says_so(shared: Searcher) -> None:
    # A question's quotes are as often the asker's own phrase as an exact one.
    results = shared.search('为什么 “memory pin” 能加快拷贝')
    assert "学习笔记/dataloader.md" in [hit.path for hit in results.hits]
    assert results.notice and "“memory pin”" in results.notice and "searched apart" in results.notice
    assert "学习笔记/dataloader.md" in paths(shared, '为什么 “pin memory” 能加快拷贝')
    assert shared.search('为什么 “pin memory” 能加快拷贝').notice is None


def test_a_query_of_only_common_words_says_so(shared: Searcher) -> None:
    results = shared.search("的 了 the")
    assert results.hits == [] and results.notice


# --- glossary --------------------------------------------------------------------------------------------


def test_an_english_query_finds_a_chinese_note_through_the_builtin_glossary(shared: Searcher) -> None:
    results = shared.search("tokenizer")
    assert results.hits[0].path == "学习笔记/tokenizer.md"
    assert "分词器" in results.aliases


def test_the_person_glossary_adds_aliases_and_is_reloaded_when_it_changes(root: Path) -> None:
    write(root, "glossary.md", "# 术语表\n\n- 拆字器 = 分词器\n")
    with ProjectMemory(root) as memory:
        memory.ensure_index()
        results = find(memory, "拆字器")
        assert "分词器" in results.aliases and "学习笔记/tokenizer.md" in [hit.path for hit in results.hits]
        write(root, "glossary.md", "# 术语表\n\n- 显卡内存 = 显存\n")
        memory.notes_changed(["glossary.md"], [])
        assert "显存" in find(memory, "显卡内存").aliases
        assert "分词器" not in find(memory, "拆字器").aliases


def test_an_explicit_glossary_replaces_the_builtin_one(root: Path) -> None:
    store = NoteStore(root)
    index = IndexService(store, PRESETS["cs336-zh"])
    engine = SearchEngine(store, PRESETS["cs336-zh"], index, glossary=Glossary([["tok", "分词器"]]))
    try:
        assert engine.search(search_request("tok")).aliases == ["分词器"]
        assert engine.search(search_request("tokenizer")).aliases == []
    finally:
        index.close()


# --- freshness -------------------------------------------------------------------------------------------


def test_an_updated_note_is_found_once_with_its_new_text(engine: Searcher, root: Path) -> None:
    """Whoosh-reloaded's searcher.refresh() would return the old and the new version here."""
    for round_ in range(3):
        write(root, "学习笔记/tokenizer.md", f"# 分词器笔记\n\n第{round_}版：字节级 BPE 合并规则。\n")
        engine.update(["学习笔记/tokenizer.md"])
        hits = [h for h in engine.search("BPE 合并规则", all_sections=True).hits if "tokenizer" in h.path]
        assert len(hits) == 1
        assert f"第{round_}版" in hits[0].snippet


def test_a_deleted_note_leaves_the_results(engine: Searcher, root: Path) -> None:
    (root / "学习笔记/dataloader.md").unlink()
    engine.update([], ["学习笔记/dataloader.md"])
    assert "学习笔记/dataloader.md" not in paths(engine, "pin memory")


def test_an_update_with_unchanged_content_writes_nothing(engine: Searcher, root: Path) -> None:
    index_dir = engine.store.cache.index_dir
    before = sorted(p.name for p in index_dir.glob("_MAIN_*.toc"))
    os.utime(root / "学习笔记/tokenizer.md")
    engine.update(["学习笔记/tokenizer.md"])
    assert sorted(p.name for p in index_dir.glob("_MAIN_*.toc")) == before


def test_sweep_indexes_what_the_watcher_missed(engine: Searcher, root: Path) -> None:
    write(root, "学习笔记/new.md", "# 新笔记\n\n梯度检查点用时间换显存。\n")
    report = engine.sweep()
    assert report.indexed == ["学习笔记/new.md"]
    assert paths(engine, "梯度检查点")[0] == "学习笔记/new.md"
    assert engine.sweep().indexed == []


def test_paths_that_are_not_notes_are_ignored(engine: Searcher, root: Path) -> None:
    write(root, ".hidden/x.md", "梯度检查点")
    write(root, "学习笔记/x.md~", "梯度检查点")
    engine.update([".hidden/x.md", "学习笔记/x.md~", "missing.md"])
    assert engine.search("梯度检查点").hits == []
    assert engine.status().pending == 0


def test_postings_read_block_by_block_equal_whooshs_own_over_segments_with_deletions(
    engine: Searcher, root: Path
) -> None:
    """Ranking reads posting lists block by block instead of through Whoosh's matchers: it must see what
    they see, in an index of several segments whose older ones hold deleted documents."""
    from server.search.whoosh_index import decode_positions

    for round_ in range(3):
        write(root, "学习笔记/tokenizer.md", f"# 分词器笔记\n\n第{round_}版：分词器把 KV缓存 切成词元。\n")
        engine.update(["学习笔记/tokenizer.md"])
    (root / "学习笔记/dataloader.md").unlink()
    engine.update([], ["学习笔记/dataloader.md"])
    with engine.reading() as terms:
        assert terms is not None
        searcher = terms.searcher
        readers = [sub.reader() for sub, _ in searcher.leaf_searchers()]
        assert len(readers) > 1 and any(reader.has_deletions() for reader in readers)
        for term in ("笔记", "缓存", "kv", "分词", "词器", "显存", "memory", "pin", "梯度"):
            ours = terms.postings(term)
            theirs_docs, theirs_weights = [], []
            for sub, offset in searcher.leaf_searchers():
                reader = sub.reader()
                if ("words", term) not in reader:
                    continue
                matcher = reader.postings("words", term)
                while matcher.is_active():
                    theirs_docs.append(matcher.id() + offset)
                    theirs_weights.append(matcher.weight())
                    position = terms.positions(term, [matcher.id() + offset])[matcher.id() + offset]
                    assert position == decode_positions(matcher.value()), term
                    matcher.next()
            assert list(ours.docs) == theirs_docs, term
            assert list(ours.weights) == pytest.approx(theirs_weights), term


def test_each_section_knows_its_note_and_how_many_live_sections_it_has_over_segments_with_deletions(
    engine: Searcher, root: Path
) -> None:
    """The note evidence of ranking counts a note's sections as they are now: an edit leaves changed sections
    deleted in an older segment, never counted, and the unchanged ones where they were, so one note's sections
    may sit in several segments under one id."""
    for sections in (4, 2, 3):
        write(root, "学习笔记/tokenizer.md", "# 分词器笔记\n\n" + "".join(f"## 第{n}节\n\n分词器。\n\n"
                                                                  for n in range(sections)))
        engine.update(["学习笔记/tokenizer.md"])
    with engine.reading() as terms:
        assert terms is not None
        note, size = terms.notes()
        live = [doc for doc in range(terms.size) if terms.lengths[doc] > 0]
        by_path: dict[str, set[int]] = {}
        for doc in live:
            by_path.setdefault(terms.path(doc), set()).add(int(note[doc]))
        assert all(len(ids) == 1 for ids in by_path.values())  # one id a note, never shared
        assert len({next(iter(ids)) for ids in by_path.values()}) == len(by_path)
        for doc in live:
            assert size[doc] == sum(terms.path(other) == terms.path(doc) for other in live)
        tokenizer = [doc for doc in range(terms.size) if terms.path(doc) == "学习笔记/tokenizer.md"]
        kept = [doc for doc in tokenizer if terms.lengths[doc] > 0]
        assert len(kept) < len(tokenizer)  # the older versions' sections are there, deleted
        assert {int(size[doc]) for doc in kept} == {len(kept)}


def test_ranking_scores_are_bm25f_over_the_weighted_parts(engine: Searcher, root: Path) -> None:
    """A section's score for a one-word query is BM25 of the word's weighted count (title 4, headings 2.5, body
    1, code 0.3) against the section's weighted length, as written out here."""
    import math

    from server.search import ranking

    write(root, "学习笔记/tokenizer.md", "# 分词器笔记\n\n分词器把文本切成词元。\n\n```\n分词器()\n```\n")
    engine.update(["学习笔记/tokenizer.md"])
    with engine.reading() as terms:
        assert terms is not None
        plan = engine.engine.plan("BPE")
        found = ranking.rank(plan, terms)
        postings = terms.postings("bpe")
        n, df = terms.sections, len(postings.docs)
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for doc, tf in zip(postings.docs, postings.weights, strict=True):
            norm = ranking.K1 * (1 - ranking.B + ranking.B * terms.lengths[doc] / terms.average_length)
            assert found.score[doc] == pytest.approx(idf * tf * (ranking.K1 + 1) / (tf + norm), rel=1e-4)



# --- questions, partial matches, absent topics --------------------------------------------------------------


def test_a_question_finds_the_section_that_answers_it_although_it_lacks_the_askers_words(shared: Searcher) -> None:
    results = shared.search("为什么 pin memory 能让训练更快")
    first = results.hits[0]
    assert first.path == "学习笔记/dataloader.md" and first.match == "full"
    assert first.matched == ["pin", "memory"] and first.missing == ["训练"]


def test_partial_matches_follow_the_full_ones_marked_with_what_they_hold_and_lack(shared: Searcher) -> None:
    question = shared.search("为什么 pin memory 能让训练更快").hits
    assert [hit.match for hit in question] == ["full", "full", "partial"]
    assert question[-1].path == "学习笔记/训练杂记.md" and question[-1].missing == ["pin", "memory"]
    keywords = shared.search("kv cache 显存").hits
    kinds = [hit.match for hit in keywords]
    assert kinds[0] == "full" and "partial" in kinds and kinds == sorted(kinds, key=lambda m: m != "full")


def test_a_result_names_the_glossary_alias_it_matched_through(shared: Searcher) -> None:
    hit = shared.search("what is gradient accumulation").hits[0]
    assert hit.path == "学习笔记/梯度累积.md" and hit.aliases == ["梯度累积"]


GENERIC_PARTS = {  # the common halves of absent topics, each in a few notes
    f"学习笔记/generic-{i}.md":
        f"# 笔记{i}\n\n神经网络的训练需要数据。数据库里的索引加快查询。排序算法有很多种。{FILLER}\n"
    for i in range(3)
}


def root_with(folder: Path, notes: dict[str, str]) -> Path:
    root = make_root(folder)
    for relpath, text in notes.items():
        write(root, relpath, text)
    return root


def module_searcher(notes: dict[str, str]) -> Callable[[pytest.TempPathFactory], Iterator[Searcher]]:
    """A fixture for a module's tests: one warm engine over the shared notes and `notes`."""

    def searcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Searcher]:
        yield from warm_searcher(root_with(tmp_path_factory.mktemp("notes"), notes))

    return pytest.fixture(scope="module")(searcher)


def scanned(root: Path) -> Callable[[str], list[str]]:
    """The paths the index-less scan returns for a query over `root`, one best section per file, the query planned
    as the engine plans it (with the built-in glossary)."""
    from server.search.filters import Filters
    from server.search.planning import expanded_plan
    from server.search.scan import Scanner

    scanner = Scanner(NoteStore(root))
    glossary = Glossary.builtin()

    def scan(query: str) -> list[str]:
        found = scanner.search(expanded_plan(query, glossary), Filters(), PRESETS["cs336-zh"], limit=10,
                               per_file=True)
        return [hit.path for hit in found]

    return scan


def by_index_and_scan(searcher: Searcher, scan: Callable[[str], list[str]], query: str) -> SearchResults:
    """The index's results for `query`, checked to name the files the scan names, in the same order."""
    results = searcher.search(query)
    assert [hit.path for hit in results.hits] == scan(query), (query, results)
    return results


def warm_searcher(root: Path) -> Iterator[Searcher]:
    searcher = Searcher(root)
    try:
        searcher.warm_up()
        yield searcher
    finally:  # also when an assertion fails in the loop: a searcher left open would outlive its test
        searcher.close()


generic = module_searcher(GENERIC_PARTS)


@pytest.mark.parametrize("query", ["图神经网络", "B+树索引", "区块链共识算法", "量子 梯度累积", "什么是神经网络剪枝",
                                   "how does a b-tree index work"])
def test_an_absent_topic_finds_nothing_even_where_a_generic_part_occurs(generic: Searcher, query: str) -> None:
    assert generic.search("神经网络").hits and generic.search("索引").hits and generic.search("算法").hits
    results = generic.search(query)
    assert results.hits == [] and results.absent, query
    assert results.notice and results.absent[0] in results.notice



APART = {  # the two words of a topic, each in its own note for its own reason
    "学习笔记/n-gram.md": f"# N-gram 模型\n\nN-gram 模型基于马尔可夫假设：下一个词只看前几个词。{FILLER}\n",
    "学习笔记/agents.md": f"# 智能体\n\n模型在每一步都要做出决策，再看环境的反馈。{FILLER}\n",
    "学习笔记/filler.md": f"# 杂记\n\n训练过程中的一些记录。{FILLER}\n",
    "学习笔记/flash.md": (f"# FlashAttention\n\n## 核心思想\n\n注意力按块计算，softmax 用在线方式更新。{FILLER}\n\n"
                         f"## 反向传播\n\n反向时不存注意力矩阵，而是重新计算。{FILLER}\n"),
    "学习笔记/memory.md": f"# 显存\n\n激活重计算可以省下显存。{FILLER}\n",
    "学习笔记/tokens.md": (f"# 从文本到向量\n\n## BPE\n\nBPE 合并最常见的字节对。{FILLER}\n\n"
                          f"## Embedding\n\n每个 token id 查表得到 embedding 向量。{FILLER}\n"),
}


@pytest.fixture(scope="module")
def apart_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return root_with(tmp_path_factory.mktemp("apart"), APART)


def test_a_topic_whose_words_occur_only_apart_finds_nothing_and_says_so(apart_root: Path) -> None:
    searcher = Searcher(apart_root)
    searcher.warm_up()
    try:
        assert searcher.search("马尔可夫假设").hits and searcher.search("决策").hits
        results = searcher.search("马尔可夫 决策 过程")
        assert results.hits == [] and results.absent == []
        assert results.notice is not None and "马尔可夫 and 决策 together" in results.notice
        results = searcher.search("马尔可夫决策过程")  # written as one name: the side-by-side rule says it first
        assert results.hits == [] and results.notice is not None and "马尔可夫决策" in results.notice
    finally:
        searcher.close()
    write(apart_root, "学习笔记/rl.md", f"# 强化学习\n\n马尔可夫决策过程由状态、动作和奖励组成。{FILLER}\n")
    searcher = Searcher(apart_root)
    searcher.warm_up()
    try:
        first = searcher.search("马尔可夫决策过程").hits[0]
        assert first.path == "学习笔记/rl.md" and first.match == "full"
    finally:
        searcher.close()
        (apart_root / "学习笔记" / "rl.md").unlink()


@pytest.mark.parametrize(("query", "path"), [
    ("FlashAttention 反向传播 重计算", "学习笔记/flash.md"),  # a paraphrase added to a query that finds its section
    ("在线softmax 分块", "学习笔记/flash.md"),
    ("BPE embedding", "学习笔记/tokens.md"),  # sibling sections of one note
])
def test_words_found_in_one_note_or_with_a_full_match_are_never_taken_for_an_absent_topic(
    apart_root: Path, query: str, path: str
) -> None:
    searcher = Searcher(apart_root)
    searcher.warm_up()
    try:
        results = searcher.search(query)
    finally:
        searcher.close()
    assert path in [hit.path for hit in results.hits] and not results.notice, query


def test_a_scan_refuses_a_topic_whose_words_occur_only_apart(apart_root: Path) -> None:
    scan = scanned(apart_root)

    assert scan("马尔可夫假设") == ["学习笔记/n-gram.md"]
    assert scan("马尔可夫决策过程") == []

SIDE_BY_SIDE = {  # words a query writes side by side, which the notes hold apart or far from each other
    "学习笔记/recsys.md": f"# 推荐\n\n推荐系统会把相似的内容排在一起。{FILLER}\n",
    "学习笔记/multi-gpu.md": f"# 多卡\n\n多卡协同训练要同步梯度。{FILLER}\n",
    "学习笔记/data.md": f"# 数据\n\n数据过滤去掉低质量文本。{FILLER}\n",
    "学习笔记/os.md": (f"# 数据加载\n\n每个进程都有自己的地址空间，这一点由操作系统保证。{FILLER}"
                      f"学习率调度常用余弦退火，调度算法不止一种。\n"),
    "学习笔记/hub.md": "# Hub\n\nHugging Face hosts the weights.\n",
    "学习笔记/history.md": "# History\n\nN-gram models served speech recognition first.\n",
    "学习笔记/loss.md": "# Loss\n\nThe loss function here is cross-entropy.\n",
    "学习笔记/quality.md": ("# Filtering\n\nWe train a fastText model on curated pages. Then the classifier "
                           "keeps the pages of high quality and drops the rest of the crawl.\n"),
}


side_by_side = module_searcher(SIDE_BY_SIDE)


@pytest.mark.parametrize(("query", "named"), [
    ("推荐系统协同过滤", "协同过滤"),  # 协同 and 过滤 never in one section
    ("face recognition loss function", "face recognition"),
    ("操作系统进程调度算法", "进程调度"),  # 进程 and 调度 in one section, but far apart
])
def test_words_written_side_by_side_that_the_notes_never_write_together_are_an_absent_topic(
    side_by_side: Searcher, query: str, named: str
) -> None:
    assert side_by_side.search("推荐系统").hits and side_by_side.search("loss function").hits
    results = side_by_side.search(query)
    assert results.hits == [] and named in results.absent, query
    assert results.notice and named in results.notice


@pytest.mark.parametrize(("query", "path"), [
    ("fastText quality classifier", "学习笔记/quality.md"),  # English keywords are a list: apart is fine
    ("调度算法", "学习笔记/os.md"),
    ("为什么多卡协同训练要同步梯度", "学习笔记/multi-gpu.md"),
])
def test_words_the_notes_write_together_or_a_list_of_english_keywords_still_find_their_note(
    side_by_side: Searcher, query: str, path: str
) -> None:
    assert [hit.path for hit in side_by_side.search(query).hits][:1] == [path], query


TRADITIONAL = {
    "学习笔记/繁體.md": "# 張量並行\n\n把每一層的權重矩陣按列切到多張顯卡上，再用 all-reduce 合併結果。\n",
    "学习笔记/带宽.md": f"# 内存带宽\n\n解码阶段受内存带宽限制。{FILLER}\n",
}


def test_either_script_finds_notes_written_in_the_other(tmp_path: Path) -> None:
    root = root_with(tmp_path, TRADITIONAL)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        assert "学习笔记/繁體.md" in [hit.path for hit in by_index_and_scan(searcher, scan, "张量并行 权重矩阵").hits]
        assert by_index_and_scan(searcher, scan, "梯度累積").hits[0].path == "学习笔记/梯度累积.md"
        # A region's own word is a different word, not a different script: the glossary knows 記憶體 and 頻寬.
        assert searcher.search("記憶體 頻寬").hits[0].path == "学习笔记/带宽.md"
        assert searcher.search("區塊鏈").absent == ["區塊鏈"]  # named as typed, not as searched (区块链)


def test_a_scan_of_many_matching_notes_reads_the_likeliest_ones_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A large folder has thousands of notes holding two common words; only the likeliest are cut into sections.
    monkeypatch.setattr("server.search.scan.SCAN_ANALYZE_MOST", 3)
    notes = {f"学习笔记/passing-{n}.md": f"# 杂记 {n}\n\n{'梯度 显存 ' * (n % 3 + 1)}{FILLER}\n" for n in range(8)}
    notes["学习笔记/ckpt.md"] = f"# 梯度检查点省显存\n\n{'梯度检查点用重新计算换显存。' * 4}\n"
    found = scanned(root_with(tmp_path, notes))("梯度 显存")
    assert found[0] == "学习笔记/ckpt.md" and len(found) == 3, found
    assert all(path in ("学习笔记/ckpt.md", "学习笔记/passing-2.md", "学习笔记/passing-5.md") for path in found)


def test_a_scan_applies_the_side_by_side_rule_as_the_index_does(tmp_path: Path) -> None:
    scan = scanned(root_with(tmp_path, SIDE_BY_SIDE))

    assert scan("推荐系统协同过滤") == [] and scan("操作系统进程调度算法") == []
    assert scan("face recognition loss function") == []
    assert scan("调度算法") == ["学习笔记/os.md"] and scan("fastText quality classifier") == ["学习笔记/quality.md"]


FRAMED_NAMES = {  # framing words (过程, 问题, 概念) that also end or begin names, and words the notes hold apart
    "学习笔记/gelu.md": f"# GELU\n\nGELU 用高斯分布的累积函数给输入加权。{FILLER}训练过程中它比 ReLU 平滑。\n",
    "学习笔记/drift.md": f"# 残差\n\n残差流的数值会漂移。{FILLER}这个概念下一讲再讲。\n",
    "学习笔记/memory.md": "# 显存\n\n显存不够的问题可以用激活重计算缓解。\n",
    "学习笔记/serving.md": (f"# 推理服务\n\n推理效率决定了服务的生存。{FILLER}两者的关系下一讲再讲。"
                            "下面分析成本，再从日志里抽取样本。\n"),
}


@pytest.mark.parametrize(("query", "named"), [("高斯过程", "高斯过程"), ("高斯过程是什么", "高斯过程"),
                                              ("概念漂移", "概念漂移"), ("生存分析", "生存分析"),
                                              ("关系抽取是什么", "关系抽取")])
def test_a_framing_word_written_onto_a_word_the_notes_never_write_near_it_names_an_absent_topic(
    tmp_path: Path, query: str, named: str
) -> None:
    for searcher in warm_searcher(root_with(tmp_path, FRAMED_NAMES)):
        assert searcher.search("高斯分布").hits and searcher.search("漂移").hits
        results = searcher.search(query)
        assert results.hits == [] and results.absent == [named], results
        # Written near each other, the framing word frames the topic as before.
        assert [hit.path for hit in searcher.search("显存问题").hits][:1] == ["学习笔记/memory.md"]
    scan = scanned(root_with(tmp_path, FRAMED_NAMES))
    assert scan(query) == [] and scan("显存问题")[:1] == ["学习笔记/memory.md"]

ASKER_WORDING = {
    "学习笔记/ppl.md": ("# Perplexity\n\nPerplexity depends on the tokenizer: two models with different tokenizers "
                        "predict different units, so compare bits per byte instead.\n"),
    "学习笔记/adam.md": "# Adam\n\nAdam keeps a running estimate of each gradient's mean and updates its state.\n",
    "学习笔记/dedup.md": "# Dedup\n\nA filter drops near-duplicate pages.\n",
    # Common words, so that a word no note holds would carry most of the question's weight.
    **{f"学习笔记/run-{i}.md": f"# Run {i}\n\nTwo models use different settings; we compare them.\n"
       for i in range(40)},
}


def test_a_plain_english_word_no_note_holds_does_not_outweigh_the_topic_a_question_asks_about(
    tmp_path: Path,
) -> None:
    # misleading is the asker's wording; the question asks about perplexity across tokenizers, which a note holds.
    question = "Why is it misleading to compare the perplexity of two models that use different tokenizers?"
    root = root_with(tmp_path, ASKER_WORDING)
    for searcher in warm_searcher(root):
        results = searcher.search(question)
        assert [hit.path for hit in results.hits][:1] == ["学习笔记/ppl.md"], results
        # A word written as a name keeps its weight: the notes hold filter, update, state and estimate, not Kalman.
        results = searcher.search("How does a Kalman filter update its state estimate?")
        assert results.hits == [] and "Kalman" in results.absent, results
    assert scanned(root)(question)[:1] == ["学习笔记/ppl.md"]


ENGLISH_SUBJECTS = {  # the words of two names the questions ask about, each held for another reason
    "学习笔记/switch.md": "# Checkpoints\n\nA training system can save and restore its state; processes reload it.\n",
    "学习笔记/roofline.md": "# Roofline\n\nThe operating point sits under the roofline; switch to a fused kernel.\n",
    "学习笔记/cluster.md": "# Cluster\n\nThe system has eight GPUs per node.\n",
    "学习笔记/moe.md": "# MoE\n\nSparse experts: each token visits two of them, and their outputs are summed.\n",
    "学习笔记/vector.md": "# Embeddings\n\nEach token's vector is looked up; experts' outputs are summed.\n",
    "学习笔记/machine.md": "# Hardware\n\nOne machine holds eight GPUs; experts' outputs are summed.\n",
    "学习笔记/gqa.md": "# GQA\n\nGQA lets query heads share key and value heads, so the KV cache gets smaller.\n",
    "学习笔记/gelu.md": "# GELU\n\nA GELU written in PyTorch by hand runs slower than the fused one.\n",
    "学习笔记/warmup.md": "# Warmup\n\nA warmup of the learning rate keeps early training stable.\n",
}


@pytest.mark.parametrize(("question", "found"), [
    ("what does the operating system save and restore at each switch between processes", None),
    ("how does a support vector machine sum the outputs of experts", None),
    ("why does GQA shrink the KV cache", "学习笔记/gqa.md"),  # the name held, then the asker's verb
    ("why is a hand-written GELU in PyTorch slower", "学习笔记/gelu.md"),  # the asker's word before the name
    ("why does warmup stabilise early training", "学习笔记/warmup.md"),  # a one-word subject, then a verb
])
def test_an_english_question_whose_subject_opens_with_a_name_no_note_holds_finds_nothing(
    tmp_path: Path, question: str, found: str | None
) -> None:
    """The operating system: operating and system are in the notes, never in one note; the notes answer nothing
    about it, however many of the question's other words they hold."""
    root = root_with(tmp_path, ENGLISH_SUBJECTS)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        results = by_index_and_scan(searcher, scan, question)
        assert [hit.path for hit in results.hits][:1] == ([found] if found else []), results
        assert results.absent, results


DESCRIBED_KEYWORDS = {
    "学习笔记/gelu-kernel.md": ("# 手写 GeLU\n\n## 下标\n\n用 CUDA 手写 GeLU kernel：每个线程由 blockIdx 和 threadIdx "
                               f"算出自己负责的元素位置。{FILLER}\n"),
    **{f"学习笔记/cuda{n:02d}.md": f"# CUDA {n}\n\nCUDA kernel 的启动开销，GeLU 也是一个 kernel。{FILLER}\n"
       for n in range(60)},  # the common words of a course on kernels
}


@pytest.mark.parametrize(("query", "found", "absent"), [
    ("CUDA GeLU kernel blockIdx threadIdx 计算全局下标", "学习笔记/gelu-kernel.md", "计算全局下标"),
    ("CUDA GeLU kernel 计算全局下标", None, "计算全局下标"),  # three keywords name too little to tell
    ("CUDA GeLU kernel 启动 计算全局下标", None, "计算全局下标"),  # four common words name nothing
    ("CUDA GeLU kernel blockIdx threadIdx warpsize", None, "warpsize"),  # an English word found nowhere: a name
])
def test_four_keywords_met_in_one_section_name_the_topic_a_word_found_nowhere_describes(
    tmp_path: Path, query: str, found: str | None, absent: str
) -> None:
    root = root_with(tmp_path, DESCRIBED_KEYWORDS)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        results = by_index_and_scan(searcher, scan, query)
        assert [hit.path for hit in results.hits][:1] == ([found] if found else []), results
        assert results.absent == [absent] and results.notice and absent in results.notice, results


def test_a_keyword_compound_of_three_words_may_be_written_as_two_halves(tmp_path: Path) -> None:
    notes = {
        "学习笔记/serve.md": f"# 部署\n\n大模型部署时，推理加速靠 KV 缓存和批处理。{FILLER}\n",
        "学习笔记/filter.md": f"# 数据\n\n网页里的有害内容，用分类器过滤。{FILLER}\n",
        "学习笔记/rl.md": f"# 强化学习\n\n强化学习的智能体和环境交互；联合训练。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        # 大模型 | 推理加速, each written as is in one section: the person's compound of two written names.
        assert [hit.path for hit in searcher.search("大模型推理加速").hits][:1] == ["学习笔记/serve.md"]
        # … but a half no note writes (联邦) keeps the compound a topic the notes lack.
        results = searcher.search("联邦强化学习")
        assert results.hits == [] and results.absent, results
        # A half must be written as is: 有害内容 is, 过滤 is; 内容 and 过滤 apart do not make 内容过滤.
        assert [hit.path for hit in searcher.search("有害内容过滤").hits][:1] == ["学习笔记/filter.md"]
    assert scan("大模型推理加速")[:1] == ["学习笔记/serve.md"] and scan("联邦强化学习") == []


DESCRIBED = {  # notes that name what a person may describe in their own words
    "学习笔记/ckpt.md": f"# 激活检查点\n\n训练时只保存部分中间激活，反向传播时重新计算其余的激活，用计算换显存。"
                       f"{FILLER}\n",
    "学习笔记/chinchilla.md": f"# Chinchilla\n\nChinchilla scaling 给出固定算力下参数量和数据量的分配。{FILLER}\n",
}


def test_a_topic_described_in_the_askers_own_words_is_read_as_a_question(tmp_path: Path) -> None:
    root = root_with(tmp_path, DESCRIBED)
    description, expected = "训练时不保存中间激活，反向传播时再重新算一遍", "学习笔记/ckpt.md"
    for searcher in warm_searcher(root):
        # Answered, not refused for the words only the asker uses (再重新算一遍), the note it describes among the
        # answers.
        assert expected in [hit.path for hit in searcher.search(description).hits]
        # Said, not asked, of a thing the notes never name, it is still whether the subject applies to that thing.
        results = searcher.search("Chinchilla scaling 用在天气预报模型")
        assert results.hits == [], results
    assert expected in scanned(root)(description)


def test_a_description_holding_a_noun_no_note_holds_names_a_topic_the_notes_lack(tmp_path: Path) -> None:
    notes = {"学习笔记/dist.md": f"# 分布式训练\n\n各个节点在本地训练模型，只上传参数和梯度，不共享数据。{FILLER}\n"}
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        # Read as a question, but not asked: a description names its topic with its nouns (医院, 病人), all of them.
        results = searcher.search("几家医院各自在本地训练模型，只上传参数，不共享病人数据")
        assert results.hits == [] and {"医院", "病人"} <= set(results.absent), results
        # Its wording may still be missing from the notes (先 … 训练好, 传上去), as a question's may.
        found = searcher.search("各个节点先在本地把模型训练好，再只把参数传上去").hits
        assert [hit.path for hit in found][:1] == ["学习笔记/dist.md"]


def test_a_question_naming_a_compound_the_notes_hold_only_apart_finds_nothing(tmp_path: Path) -> None:
    notes = {
        "学习笔记/tree.md": f"# 分类\n\n决策树按特征切分样本。{FILLER}\n",
        "学习笔记/arena.md": f"# 竞技场\n\n用户给两个匿名回答投票，再按投票算排名。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    named = "用很多棵决策树投票，每棵树只看随机一部分特征"  # random forests: 决策树 and 投票, never side by side
    wording = "用户把回答投票以后怎么算出排名"  # a stretch opening with a verb (把回答投票) is the asker's wording
    for searcher in warm_searcher(root):
        results = searcher.search(named)
        assert results.hits == [] and "决策树投票" in results.absent, results
        assert [hit.path for hit in searcher.search(wording).hits][:1] == ["学习笔记/arena.md"]
    assert scan(named) == [] and scan(wording)[:1] == ["学习笔记/arena.md"]


def test_a_question_naming_nothing_the_notes_hold_beside_a_word_no_note_holds_finds_nothing(tmp_path: Path) -> None:
    notes = {
        "学习笔记/home.md": f"# Setup\n\nMake a venv at home before the lab.{FILLER}\n",
        "学习笔记/break.md": f"# Break\n\nCoffee after the lab.{FILLER}\n",
        "学习笔记/gelu.md": f"# GELU\n\nA GELU written by hand is slow without kernel fusion.{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        results = searcher.search("how to make cold coffee at home")  # the notes hold make, coffee, home; not cold
        assert results.hits == [] and "cold" in results.absent, results
        # A question naming what the notes hold (GELU) keeps its partial matches: sluggish is the asker's word.
        assert [hit.path for hit in searcher.search("why does GELU feel sluggish").hits][:1] == ["学习笔记/gelu.md"]
    assert scan("how to make cold coffee at home") == [] and scan("why does GELU feel sluggish")[:1] == [
        "学习笔记/gelu.md"]


def test_a_word_no_note_holds_is_named_where_and_as_the_query_writes_it() -> None:
    from server.search.engine import _as_typed

    assert _as_typed("Recap: CAP theorem", ["cap"]) == {"cap": "CAP"}  # a word's own letters, not recap's
    assert _as_typed("區塊鏈是什麼……", ["区块链"]) == {"区块链": "區塊鏈"}  # …… folds to six dots: offsets move
    assert _as_typed("FlashAttenion 的分块", ["flashattenion"]) == {"flashattenion": "FlashAttenion"}


def test_a_compound_ending_in_a_nameless_noun_names_its_other_words() -> None:
    from server.search.absence import Absence, partial_matches_miss_the_topic
    from server.search.analyzer import plan_query

    def apart(query: str, words: tuple[str, str]) -> bool:
        plan = plan_query(query)
        group = {i for i, unit in enumerate(plan.units) if unit.text in words}
        return partial_matches_miss_the_topic(plan, Absence(group, [], [group]), [True] * len(plan.units))

    assert apart("用很多棵决策树投票，每棵树只看随机一部分特征", ("决策树", "投票"))
    assert not apart("训练集和测试集重叠有什么检测办法", ("检测", "办法"))  # 办法 names no thing
    assert apart("雅思口语 part2 怎么准备", ("雅思", "口语"))  # the subject, before the question word
    assert not apart("怎么理解决策树投票", ("决策树", "投票"))  # after it: as often the asker's phrasing


def test_a_descriptions_verbs_are_its_wording_not_part_of_a_name(tmp_path: Path) -> None:
    notes = {
        "学习笔记/bpe.md": f"# BPE\n\n不断把最常见的相邻字节对合并，加入词表。{FILLER}\n",
        "学习笔记/vocab.md": f"# 词表\n\n遇到新词时，它会被切成新的子词。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        # 合并成新词: 合并 is what the description says is done, not half of a name 新词 must be written beside, nor
        # named as what the notes lack.
        results = searcher.search("把最常见的相邻字节对不断合并成新词")
        assert [hit.path for hit in results.hits][:1] == ["学习笔记/bpe.md"] and results.absent == [], results


def test_an_adverb_or_a_number_of_things_in_a_question_names_nothing(tmp_path: Path) -> None:
    notes = {
        "学习笔记/batch.md": f"# 临界批大小\n\n超过临界 batch 以后，加大 batch 就没用了。{FILLER}\n",
        "学习笔记/mtp.md": f"# 多 token 预测\n\nMTP 让模型一次预测后面几个 token。{FILLER}\n",
        "学习笔记/misc.md": f"# 杂记\n\n过拟合的程度可以用验证集衡量。试了好几回。{FILLER}这几个例子。\n",
        # The question's other words, common in the notes: 好几个, held only in parts far apart, weighs the most.
        **{f"学习笔记/decode-{n}.md": f"# 解码 {n}\n\n每次同时预测后面一个 token。{FILLER}\n" for n in range(6)},
    }
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        # 再 is never inside a name: 程度 and 加大 are two words of the question, not a compound the notes lack.
        found = searcher.search("batch 大到什么程度再加大就没用了").hits
        assert [hit.path for hit in found][:1] == ["学习笔记/batch.md"]
        # 好几个 is searched by its parts (好几, 几个) but names nothing: no note need write it whole, nor is it
        # named as a word the notes lack.
        results = searcher.search("一次同时预测后面好几个 token")
        assert [hit.path for hit in results.hits][:1] == ["学习笔记/mtp.md"] and results.absent == [], results


def test_a_verb_the_notes_lack_in_what_a_question_names_is_part_of_the_name(tmp_path: Path) -> None:
    notes = {
        "学习笔记/label.md": f"# 标注\n\n志愿者帮忙标注偏好数据。{FILLER}\n",
        "学习笔记/quant.md": f"# 量化\n\n知识蒸馏和量化都能压缩模型：量化把权重存成低比特。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        # 高考, tagged a verb and found nowhere, is part of 高考志愿, what the question asks about: not its wording.
        results = searcher.search("高考志愿怎么填报")
        assert results.hits == [] and results.absent[:1] == ["高考志愿"], results
        # A verb the notes hold names what is asked (蒸馏 and 量化 of 蒸馏量化怎么压缩模型).
        assert [hit.path for hit in searcher.search("蒸馏量化怎么压缩模型").hits][:1] == ["学习笔记/quant.md"]


def test_only_a_chinese_description_is_read_as_a_question() -> None:
    from server.search.analyzer import plan_query

    assert plan_query("用更少的比特存权重让模型变小").question  # 用, 更, 让
    assert plan_query("一块一块地算 softmax，不用把整个注意力矩阵存下来").question
    assert plan_query("把优化器状态切开分到每张卡上").question  # 把 alone puts a thing before its verb
    # A modal verb, a "when" or a sequence word says what is done, as an adverb does (能 … 时; 然后 … 最后).
    assert plan_query("答案能用规则自动判对错时的强化学习奖励").question
    assert plan_query("学习率先预热然后长时间保持不变最后快速降下来").question
    assert not plan_query("推理时 显存 占用").question  # one such word in a list of names is no sentence
    # nor are two, when one is a character jieba cuts off a listed word (时 of 训练时; 过 of 过拟合)
    assert not plan_query("过拟合 要 早停").question and not plan_query("训练时 过拟合").question
    # Not an English sentence of plain words: they carry no part of speech to tell wording from names.
    sentence = "the learning rate stays flat for most of training and then drops quickly at the end"
    assert not plan_query(sentence).question
    assert not plan_query("爱因斯坦场方程里的张量").question  # 的 and 里 join names


LONG_KEYWORD = {  # the words of a long keyword segment, never all in one section
    "学习笔记/attention.md": f"# 注意力\n\n注意力机制的缺陷是计算量随长度平方增长。{FILLER}\n",
    "学习笔记/pipeline.md": f"# 流水线\n\n流水线的障碍在于气泡。多卡之间的动态调度也不简单。{FILLER}\n",
    "学习笔记/moe.md": f"# 混合专家\n\n混合专家模型用负载均衡损失函数让专家分到的词元差不多。{FILLER}\n",
}


def test_a_keyword_segment_too_long_for_one_term_is_absent_when_its_words_never_meet(tmp_path: Path) -> None:
    root = root_with(tmp_path, LONG_KEYWORD)
    for searcher in warm_searcher(root):
        results = searcher.search("注意力缺陷多动障碍")  # ADHD: 注意力 and 缺陷 meet, 障碍 is elsewhere
        assert results.hits == [] and results.absent == ["注意力缺陷多动障碍"], results
        assert [hit.path for hit in searcher.search("混合专家模型负载均衡损失函数").hits][:1] == ["学习笔记/moe.md"]
    scan = scanned(root)
    assert scan("注意力缺陷多动障碍") == [] and scan("混合专家模型负载均衡损失函数")[:1] == ["学习笔记/moe.md"]

COMPOUND_WORDS = {  # the words of keyword compounds in one clause, or one after another
    "学习笔记/course.md": f"# 课程\n\n本课程介绍如何学习大模型。用 32 台服务器训练千亿参数。{FILLER}\n",
    "学习笔记/amp.md": f"# 精度\n\n混合精度的训练要做损失缩放。{FILLER}\n",
    "学习笔记/eval.md": f"# 评估\n\n训练-测试污染让测试集上的分数虚高。{FILLER}\n",
}


@pytest.mark.parametrize(("query", "path"), [
    ("课程学习", None),  # curriculum learning: 课程 and 学习 only in one clause
    ("参数服务器", None),
    ("混合精度训练", "学习笔记/amp.md"),  # 的 between two words of it
    ("测试集污染", "学习笔记/eval.md"),  # the query's lone 集 left out
])
def test_a_keyword_compound_counts_where_a_note_writes_its_words_one_after_another(
    tmp_path: Path, query: str, path: str | None
) -> None:
    root = root_with(tmp_path, COMPOUND_WORDS)
    for searcher in warm_searcher(root):
        results = searcher.search(query)
        if path is None:
            assert results.hits == [] and results.absent == [query], results
        else:
            assert [hit.path for hit in results.hits][:1] == [path], results
    assert scanned(root)(query)[:1] == ([path] if path else [])

KERNEL_TRICK = {  # 核 and 技巧 each, SVM in a list: no kernel trick
    "学习笔记/gpu.md": f"# GPU\n\n每个核跑一个线程块，调优有不少技巧。{FILLER}\n",
    "学习笔记/classic.md": f"# 传统方法\n\n早年的文本分类用 SVM 和朴素贝叶斯。{FILLER}\n",
}


@pytest.mark.parametrize("query", ["核技巧", "核技巧原理", "SVM的核技巧", "SVM的核技巧是什么"])
def test_a_glossary_term_is_a_name_even_where_its_words_would_frame_a_query(tmp_path: Path, query: str) -> None:
    # 技巧 frames a query (调优技巧) and 核 is a lone character, but 核技巧 is the kernel trick; and in a question
    # that asks what SVM的核技巧 is, the part after 的 is what it asks about: SVM alone does not answer it.
    for searcher in warm_searcher(root_with(tmp_path, KERNEL_TRICK)):
        assert searcher.search("SVM").hits
        results = searcher.search(query)
        assert results.hits == [] and results.absent == ["核技巧"], results

ONE_COMPOUND = {  # the words of compounds with a glossary term in them, in one clause or in English
    "学习笔记/tokens.md": f"# 词表\n\n全世界的语言都要进模型的词表。{FILLER}\n",
    "学习笔记/gelu.md": f"# 激活\n\n梯度在负半轴也不为零，训练更稳定，效果有提升。{FILLER}\n",
    "学习笔记/loss.md": f"# Loss\n\nThe cross-entropy loss compares the logits with the next token. {FILLER}\n",
}


@pytest.mark.parametrize("query", ["世界模型", "梯度提升"])
def test_a_query_that_is_one_compound_counts_where_a_note_writes_it_not_where_a_clause_holds_its_words(
    tmp_path: Path, query: str
) -> None:
    # 模型 and 梯度 are glossary terms, so the compound's words are searched apart (for their aliases); alone in the
    # query they still name one thing, which a note writes one word right after the other.
    root = root_with(tmp_path, ONE_COMPOUND)
    for searcher in warm_searcher(root):
        results = searcher.search(query)
        assert results.hits == [] and results.absent == [query], results
        # an alias of each word stands for the compound: cross-entropy loss for 交叉熵损失
        assert [hit.path for hit in searcher.search("交叉熵损失").hits][:1] == ["学习笔记/loss.md"]


def test_a_lowercase_word_of_hyphened_parts_no_note_writes_together_is_the_askers_wording(tmp_path: Path) -> None:
    notes = {f"学习笔记/stage-{i}.md": f"# Stage {i}\n\nThe pipeline runs the backward pass; we compute weights.\n"
             for i in range(40)}
    notes["学习笔记/zero-bubble.md"] = ("# Zero bubble\n\nSplitting the backward pass fills the bubbles: the "
                                       "gradient for each stage's input comes first, the weight gradient later.\n")
    question = "When splitting the backward pass, why compute the input-gradient, then the weights?"
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        results = searcher.search(question)
        assert [hit.path for hit in results.hits][:1] == ["学习笔记/zero-bubble.md"], results

COLD_START = {  # a question's two-word compound held only far apart, beside a rarer word the notes do hold
    "学习笔记/rl.md": (f"# 强化学习\n\n冷启动数据先做监督微调，缓解冷启动问题。多个奖励模型协同打分。{FILLER}"
                      "最后过滤掉低分样本。\n"),
    "学习笔记/multi-gpu.md": f"# 多卡\n\n多卡协同训练要同步梯度。{FILLER}\n",
    "学习笔记/data.md": f"# 数据\n\n数据过滤去掉低质量文本。{FILLER}\n",
    "学习笔记/loss.md": f"# 损失\n\n训练中出现的问题要记下来。{FILLER}\n",
}


def test_a_questions_two_word_name_held_only_far_apart_is_absent_however_rare_its_other_words(
    tmp_path: Path,
) -> None:
    from server.search.analyzer import plan_query
    from server.search.filters import Filters
    from server.search.scan import Scanner

    root = root_with(tmp_path, COLD_START)
    question = "为什么协同过滤会有冷启动问题"
    for searcher in warm_searcher(root):
        results = searcher.search(question)
        assert results.hits == [] and results.absent == ["协同过滤"], results
        assert [hit.path for hit in searcher.search("为什么冷启动数据要先做监督微调").hits][:1] == ["学习笔记/rl.md"]
    scanned = Scanner(NoteStore(root)).search(plan_query(question), Filters(), PRESETS["cs336-zh"], limit=10,
                                              per_file=True)
    assert scanned == []


SORTING = {  # a glossary alias of two words each note holds for another reason, or writes as the name
    "学习笔记/pipeline.md": f"# 流水线\n\nA pipeline bubble wastes time. {FILLER} We sort the micro-batches.\n",
    **{f"学习笔记/cost-{i}.md": f"# 代价 {i}\n\n第 {i} 种做法的时间复杂度更高。\n" for i in range(8)},
    "学习笔记/skim.md": f"# 上手\n\n先快速浏览一遍。{FILLER}最后按分数排序。\n",
}


def test_a_chinese_alias_stands_for_an_english_word_only_where_a_note_writes_it_whole(tmp_path: Path) -> None:
    from server.search.filters import Filters
    from server.search.scan import Scanner

    root = root_with(tmp_path, SORTING)  # skim.md holds 快速 and, lines later, 排序
    for searcher in warm_searcher(root):
        assert searcher.search("quicksort").hits == []
        plan = searcher.engine.plan("quicksort")
        assert Scanner(NoteStore(root)).search(plan, Filters(), PRESETS["cs336-zh"], limit=10, per_file=True) == []


@pytest.mark.parametrize("question", ["什么是快速排序", "什么是“快速排序”"])
def test_a_glossary_term_no_note_writes_is_absent_though_its_words_are_common(tmp_path: Path, question: str) -> None:
    from server.search.filters import Filters
    from server.search.scan import Scanner

    # jieba reads 快速 as an adverb; the glossary knows 快速排序 for a name, whose aliases no note holds either.
    root = root_with(tmp_path, SORTING)
    for searcher in warm_searcher(root):
        results = searcher.search(question)
        assert results.hits == [] and results.absent == ["快速排序"], results
        plan = searcher.engine.plan(question)
        assert Scanner(NoteStore(root)).search(plan, Filters(), PRESETS["cs336-zh"], limit=10, per_file=True) == []


def test_an_alias_of_several_words_stands_for_a_word_only_where_a_note_writes_them_together(tmp_path: Path) -> None:
    from server.search.filters import Filters
    from server.search.scan import Scanner

    root = root_with(tmp_path, SORTING)
    question = "冒泡排序的时间复杂度是多少"  # jieba tags 冒泡排序 an idiom: the glossary knows it for a name
    for searcher in warm_searcher(root):
        results = searcher.search(question)
        assert results.hits == [] and results.absent == ["冒泡排序"], results
        plan = searcher.engine.plan(question)
        assert Scanner(NoteStore(root)).search(plan, Filters(), PRESETS["cs336-zh"], limit=10, per_file=True) == []
    write(root, "学习笔记/sorting.md", "# Sorting\n\nBubble sort swaps neighbours, 时间复杂度是 n 的平方。\n")
    for searcher in warm_searcher(root):
        assert [hit.path for hit in searcher.search(question).hits][:1] == ["学习笔记/sorting.md"]
        plan = searcher.engine.plan(question)
        found = Scanner(NoteStore(root)).search(plan, Filters(), PRESETS["cs336-zh"], limit=10, per_file=True)
        assert [hit.path for hit in found][:1] == ["学习笔记/sorting.md"]


PHRASING = {  # questions worded in the asker's own verbs and idioms, and names a question must still refuse
    "学习笔记/contamination.md": f"# 数据污染\n\n检测测试集是否出现在训练数据里，可以比较 n-gram 重叠。{FILLER}\n",
    "学习笔记/batch.md": f"# 批量大小\n\nbatch size 超过临界值之后，收益很小。{FILLER}\n",
    "学习笔记/misc.md": f"# 杂记\n\n这一讲没什么新内容。{FILLER}\n",
    "学习笔记/wave.md": f"# 波形量化\n\n矩阵维度从 1792 变成 1793 时，GPU 吞吐明显下降。{FILLER}\n",
    "学习笔记/nn.md": f"# 神经网络\n\n神经网络由多层线性变换和激活函数组成。{FILLER}\n",
    "学习笔记/vector.md": f"# 向量\n\n词向量支持相似度计算，核心是内积函数。{FILLER}\n",
    "学习笔记/memory.md": f"# 显存\n\n显存回收由缓存分配器负责。{FILLER}这里的垃圾数据会被丢弃。\n",
    "学习笔记/encoder.md": f"# 编码器\n\n编码器把输入变成向量，参数化的技巧有很多。{FILLER}\n",
    "学习笔记/math.md": f"# 数学\n\n变分推断是另一回事。{FILLER}\n",
    "学习笔记/vision.md": f"# 图像\n\n图片切成小块，变成 token 进入语言模型。{FILLER}\n",
    "学习笔记/bytes.md": "# Bytes\n\nTreating each Unicode character as a token is a bad use of the vocabulary.\n",
    "学习笔记/steps.md": "# Steps\n\nEvery step logs the loss on its own line.\n",
    "学习笔记/pinned.md": f"# 数据加载\n\nCPU 上的张量放在固定内存里，拷贝到显卡更快，也能和计算重叠。{FILLER}\n",
    "学习笔记/errands.md": "# 杂记\n\n把文件放进文件夹。\n\n## 上传\n\n日志传到服务器。\n",
    "学习笔记/langid.md": f"# 语言识别\n\nfastText 做语言识别时，输入里的换行符要先替换成空格。{FILLER}\n",
    "学习笔记/dedup.md": "# 去重\n\n先去掉重复的网页。\n",
    "学习笔记/intensity.md": f"# 算术强度\n\n解码阶段每读一个参数只做很少的计算，算术强度低。{FILLER}\n",
    "学习笔记/release.md": f"# 版本\n\n新版本下周推出。{FILLER}\n",
    "学习笔记/arena.md": "# Chatbot Arena\n\nPeople pick the better of two answers; an Elo rating ranks the models.\n",
    "学习笔记/shard.md": f"# 参数切分\n\n模型参数切分到多张卡上。{FILLER}\n",
    "学习笔记/overfit.md": f"# 过拟合\n\n过拟合时加正则化。{FILLER}\n",
    "学习笔记/faq.md": f"# 常见问题\n\n遇到报错怎么办？先看日志。{FILLER}\n",
    "学习笔记/cpu.md": "# Caches\n\nThe CPU keeps caches close to its cores.\n",
    "学习笔记/layernorm.md": f"# 层归一化\n\n层归一化对每个词元的特征做归一化。{FILLER}\n",
    "学习笔记/rl.md": f"# 强化学习\n\n强化学习用奖励训练策略。{FILLER}\n",
    "学习笔记/copy.md": f"# 张量\n\n张量的拷贝很慢。{FILLER}\n",
    "学习笔记/tokenizer.md": f"# 分词器\n\n分词器训练时先统计字节对的频率。{FILLER}\n",
    "学习笔记/momentum.md": f"# Adam\n\nAdam 优化器保存一阶动量和二阶动量。{FILLER}\n",
    "学习笔记/threads.md": f"# 线程\n\nGPU 上的线程按线程束调度，和进程的区别在于共享内存。{FILLER}\n",
    "学习笔记/design.md": f"# 笔记结构设计\n\n设计笔记时先写直觉。{FILLER}\n",
}


phrasing = module_searcher(PHRASING)


@pytest.mark.parametrize(("question", "path"), [
    ("怎么判断测试集有没有混进训练数据里", "学习笔记/contamination.md"),  # 混进, a verb, is in no note
    ("batch size 加到多大之后再加就没什么收益了", "学习笔记/batch.md"),  # 没什么 and 收益 never meet: an idiom, no name
    ("矩阵维度从1792加到1793为什么GPU吞吐会下降", "学习笔记/wave.md"),  # 加 is a verb, not part of 1792
    ("图片是怎么变成token喂进语言模型里的", "学习笔记/vision.md"),  # 喂 进: lone characters found nowhere
    ("Why is treating every Unicode character as its own token a bad use of the vocabulary?",
     "学习笔记/bytes.md"),  # every, own: words of any question, no name with their neighbours
    ("为什么把 CPU 上的张量先放进固定内存再传到显卡会更快？", "学习笔记/pinned.md"),  # 放进 固定, 传到 显卡: verbs
    ("用 fasttext 做语言识别之前为什么要先把换行去掉", "学习笔记/langid.md"),  # 把 X 去掉: 去掉 is the act done to X
    ("解码阶段为什么慢，是怎么用算术强度推出来的", "学习笔记/intensity.md"),  # 推出来: a verb and its complement
    ("之前课上说解码阶段算术强度低，为什么", "学习笔记/intensity.md"),  # 课 (as 前课) found nowhere: no name
    ("How does Chatbot Arena turn answers into an Elo-style rating?", "学习笔记/arena.md"),  # Elo-style: Elo; turn
    ("模型参数是怎么切分出去的", "学习笔记/shard.md"),  # 出去: a verb's complement, like 来
    ("过拟合怎么办", "学习笔记/overfit.md"),  # 怎么办 asks; the note holding only it is no match
    ("讲讲过拟合", "学习笔记/overfit.md"),  # 讲讲, 聊聊, 解释一下: a request, not the topic
    ("解释一下Elo", "学习笔记/arena.md"),
    ("过拟合是干嘛的", "学习笔记/overfit.md"),
    ("please walk me through Chatbot Arena", "学习笔记/arena.md"),
    ("why do CPUs keep caches", "学习笔记/cpu.md"),  # CPUs searched as cpu, which CPU and CPUs both hold
    ("讲一讲层归一化", "学习笔记/layernorm.md"),  # jieba cuts 讲/一/讲: the request is blanked out first
    ("介绍一下层归一化", "学习笔记/layernorm.md"),  # … and 一/下层
    ("the idea behind Chatbot Arena", "学习笔记/arena.md"),  # idea, motivation, insight frame as 原理 does
    ("Chatbot Arena paper", "学习笔记/arena.md"),  # paper, results, derivation: what is wanted of the topic
    ("分词器训练太慢怎么办", "学习笔记/tokenizer.md"),  # 太慢: said of the topic, never part of its name
    ("Adam优化器的两个动量", "学习笔记/momentum.md"),  # 两个: how many, not a word of the name
    ("强化学习是怎么做的", "学习笔记/rl.md"),
    ("Chatbot Arena好在哪", "学习笔记/arena.md"),  # 好在哪: 好 is asked of the topic, not glued onto it
    ("层归一化稳不稳", "学习笔记/layernorm.md"),  # A-not-A asks yes or no; jieba may take it for a word
    ("Chatbot Arena靠不靠谱", "学习笔记/arena.md"),
    ("fastText训起来慢怎么办", "学习笔记/langid.md"),  # 训 after a word is a verb, not part of fastText
])
def test_a_question_in_the_askers_own_verbs_and_idioms_still_finds_its_note(
    phrasing: Searcher, question: str, path: str
) -> None:
    results = phrasing.search(question)
    assert [hit.path for hit in results.hits][:1] == [path], results
    assert results.absent == []


def test_the_m_of_im_is_no_word_of_the_topic(phrasing: Searcher) -> None:
    results = phrasing.search("explain Chatbot Arena like I'm five")  # m five was a name no note holds
    assert [hit.path for hit in results.hits][:1] == ["学习笔记/arena.md"] and results.absent == ["five"], results


@pytest.mark.parametrize(("question", "named"), [
    ("什么是图神经网络", "图神经网络"),  # a lone character naming a thing still makes the name
    ("支持向量机的核函数怎么选", "支持向量机"),  # 支持, 向量 and 函数 are there, 向量机 is not
    ("为什么垃圾回收会导致程序停顿", "垃圾回收"),  # a verb the notes hold (回收) is part of the name
    ("变分自编码器的重参数化技巧是什么", "变分自编码器"),  # 变 分 自: characters jieba leaves alone, a new word
    ("能不能把垃圾回收和内存池一起用", "垃圾回收"),  # after 把, but the clause goes on: 回收 is the name's
    ("讲讲图神经网络", "图神经网络"),  # a request around it frames it and leaves the name whole
    ("图神经网络怎么办", "图神经网络"),  # a question word after a name ends it
    ("线程和协程的区别", "协程"),  # 协 程: a word jieba does not know, found nowhere, beside a common one
    ("锚框怎么设计", "锚框"),  # … before the question word, 设计 in the notes
    ("逆强化学习是怎么做的", "逆强化学习"),  # a lone character of the name it opens with, found only as 强化学习
    ("深拷贝是什么", "深拷贝"),
    ("深拷贝和浅拷贝的区别", "深拷贝"),  # … or one of the things it compares
    ("fastText 在点云里怎么用", "点云"),  # a new word found nowhere weighs as a name the notes hold (fastText) does
])
def test_a_question_about_a_name_the_notes_lack_is_still_refused(phrasing: Searcher, question: str, named: str) -> None:
    results = phrasing.search(question)
    assert results.hits == [] and named in results.absent, results


def test_keywords_naming_a_common_name_list_its_sections_first(tmp_path: Path) -> None:
    notes = {f"学习笔记/gqa-{i}.md": f"# GQA {i}\n\nGQA 让几个查询头共享一组键值头。\n" for i in range(8)}
    notes["学习笔记/mistakes.md"] = "# Pitfalls\n\nCommon mistakes when implementing a tokenizer.\n"
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        results = searcher.search("common mistakes when implementing GQA")
        assert results.hits and results.hits[0].path.startswith("学习笔记/gqa-"), results
        assert [hit.match for hit in results.hits if hit.path == "学习笔记/mistakes.md"] in ([], ["partial"])


def test_a_section_without_the_name_a_question_asks_about_is_no_full_match(tmp_path: Path) -> None:
    from server.search.filters import Filters
    from server.search.scan import Scanner

    notes = {f"学习笔记/gqa-{i}.md": f"# GQA {i}\n\nGQA 让几个查询头共享一组键值头。\n" for i in range(8)}
    notes["学习笔记/steadier.md"] = "# 学习率\n\n换了学习率之后训练更稳。\n"  # the question's rarer words, not GQA
    root = root_with(tmp_path, notes)
    question = "GQA为什么训练更稳"
    for searcher in warm_searcher(root):
        results = searcher.search(question)
        assert [hit.match for hit in results.hits if hit.path == "学习笔记/steadier.md"] == ["partial"], results
        plan = searcher.engine.plan(question)
        scanned = Scanner(NoteStore(root)).search(plan, Filters(), PRESETS["cs336-zh"], limit=10, per_file=True)
        assert [hit.partial for hit in scanned if hit.path == "学习笔记/steadier.md"] == [True], scanned


@pytest.mark.parametrize(("question", "pair"), [
    ("为什么要先把垃圾回收？", None),  # after 把, ending its clause: 回收 is the act done to 垃圾
    ("能不能把垃圾回收和内存池一起用", ("垃圾", "回收")),  # the clause goes on: 回收 ends the name
    ("训练太久将导致垃圾回收吗", ("垃圾", "回收")),  # 将 is as often "will" as 把
])
def test_only_a_verb_ending_its_clause_after_ba_is_the_askers_sentence(question: str, pair: tuple[str, str] | None
                                                                      ) -> None:
    from server.search.absence import written_together
    from server.search.analyzer import plan_query

    plan = plan_query(question)
    pairs = {(plan.units[left].text, plan.units[right].text) for left, right in written_together(plan)}
    assert (("垃圾", "回收") in pairs) == (pair is not None), pairs


def test_a_scan_tells_phrasing_from_names_as_the_index_does(tmp_path: Path) -> None:
    scan = scanned(root_with(tmp_path, PHRASING))

    assert scan("怎么判断测试集有没有混进训练数据里")[:1] == ["学习笔记/contamination.md"]
    assert scan("用 fasttext 做语言识别之前为什么要先把换行去掉")[:1] == ["学习笔记/langid.md"]
    assert scan("之前课上说解码阶段算术强度低，为什么")[:1] == ["学习笔记/intensity.md"]
    assert scan("解码阶段为什么慢，是怎么用算术强度推出来的")[:1] == ["学习笔记/intensity.md"]
    assert scan("支持向量机的核函数怎么选") == [] and scan("什么是图神经网络") == []
    assert scan("线程和协程的区别") == [] and scan("锚框怎么设计") == []
    assert scan("fastText 在点云里怎么用") == []


def test_a_minor_word_found_nowhere_is_named_without_hiding_the_topic(shared: Searcher) -> None:
    results = shared.search("残差连接和层归一化跟dropout有什么关系")
    assert {hit.path for hit in results.hits} == {"学习笔记/a-scattered.md", "学习笔记/b-together.md"}
    assert results.absent == ["dropout"] and all(hit.missing == ["dropout"] for hit in results.hits)


def test_a_scan_without_the_index_answers_questions_and_refuses_absent_topics(root: Path) -> None:
    from server.search.analyzer import plan_query
    from server.search.filters import Filters
    from server.search.scan import Scanner

    scanner = Scanner(NoteStore(root))
    layout = PRESETS["cs336-zh"]

    def scan(query: str) -> list[tuple[str, bool]]:
        found = scanner.search(plan_query(query), Filters(), layout, limit=10, per_file=True)
        return [(hit.path, hit.partial) for hit in found]

    question = scan("为什么 pin memory 能让训练更快")  # no note holds all of it: partial matches, marked
    assert question[0][0] == "学习笔记/dataloader.md" and ("学习笔记/训练杂记.md", True) in question
    assert [partial for _, partial in question] == sorted(partial for _, partial in question)
    assert scan("pin memory") == [("学习笔记/dataloader.md", False), ("学习笔记/lecture-03-attention.md", False)]
    assert scan("区块链共识算法") == [] and scan("什么是联邦学习") == []


NAMES = {  # names whose words the notes hold, written together in some notes and only apart in others
    "学习笔记/cuda-graphs.md": ("# CUDA Graphs\n\nA CUDA graph captures the kernel launches once. The attention "
                                "kernels then replay without launch overhead.\n"),
    "学习笔记/networks.md": "# Networks\n\nA neural network stacks layers.\n",
    "学习笔记/losses.md": "# Losses\n\nLoss functions: cross-entropy, contrastive, RLHF.\n",
    "学习笔记/greedy.md": "# 贪心解码\n\n贪心解码每一步都取概率最大的词。\n",
    "学习笔记/speculative.md": "# 投机\n\n投机解码先用小模型起草，再由大模型验证。\n",
    "学习笔记/toxicity.md": ("# Toxicity\n\nWe score every page for toxicity. A small classifier does the scoring.\n\n"
                            "```python\ntoxicity_classifier = load_model('toxic.bin')\n```\n"),
    "学习笔记/compile.md": "# 编译\n\nJIT 编译器，旨在通过最少的代码改动来显著加速程序。\n",
    "学习笔记/vectors.md": "# 向量\n\n两个向量相加。更重要的是，它天然支持并行。\n",
    "学习笔记/qa.md": "# 任务\n\n对抗性问答也是一类任务。训练时要挑选有代表性的样本。\n",
    "学习笔记/contamination.md": "# 污染\n\n训练-测试污染指模型在训练中见过测试集中的数据。\n",
    "学习笔记/privacy.md": "# 隐私\n\n训练数据里的用户隐私要保护好，先做脱敏。\n",
    "学习笔记/parallel.md": ("# Parallelism\n\nDP splits the batch across GPUs. Each GPU then runs plain SGD on "
                            "its shard.\n"),
    "学习笔记/sampling.md": "# Sampling\n\nTake the min logit over the vocabulary, then apply top-p.\n",
    "学习笔记/moe.md": "# MoE\n\nA mixture of experts routes each token to two experts.\n",
    "学习笔记/fused.md": "# Fused\n\nFlash attention (attention) fused kernel.\n",
    "学习笔记/gqa.md": "# GQA\n\nQueries share one group of KV heads.\n",
    "学习笔记/generation.md": ("# Generation\n\n## Generate\n\nWe generate text one token at a time.\n\n"
                              "## Loop\n\nThe loop ends at the end-of-text token.\n"),
}


names = module_searcher(NAMES)


@pytest.mark.parametrize(("query", "named"), [
    ("graph attention network", "graph attention"),  # one section, two sentences: CUDA graphs, attention kernels
    ("contrastive decoding", "contrastive decoding"),  # decoding is reached through 解码 too: still never together
    ("支持向量", "支持向量"),  # 向量相加。…它天然支持: a sentence apart
    ("对抗样本训练", "对抗样本训练"),  # 对抗 in one sentence, 样本 and 训练 in the next
    ("DP-SGD", "DP-SGD"),  # DP for data parallel, SGD a sentence later: a word with parts, written apart
    ("min-p", "min-p"),  # min and p in one clause, but not one after the other: never min-p
])
def test_a_name_whose_words_the_notes_write_only_apart_is_an_absent_topic(
    names: Searcher, query: str, named: str
) -> None:
    results = names.search(query)
    assert results.hits == [] and named in results.absent, results


@pytest.mark.parametrize(("query", "path"), [
    ("toxicity classifier", "学习笔记/toxicity.md"),  # apart in the prose, together in the code
    ("speculative decoding", "学习笔记/speculative.md"),  # an alias (投机解码) stands for both words
    ("JIT 编译加速", "学习笔记/compile.md"),  # one sentence, a clause apart, beside another keyword
    ("测试集污染", "学习笔记/contamination.md"),  # 集 pairs with 测试, the word it belongs to
    ("训练的时候怎么保护用户隐私", "学习笔记/privacy.md"),  # 的时候: the asker's wording, found in no note
    ("KV-cache", "深度讨论/KV缓存深度讨论.md"),  # a word with parts, written as two words side by side
    ("mixture-of-experts", "学习笔记/moe.md"),  # its parts one after another (of is no word of it)
    ("flash-attention-kernel", "学习笔记/fused.md"),  # from the second attention, not the first, kernel follows
    ("KV-head", "学习笔记/gqa.md"),  # its last part in the other number: KV heads
    ("how does the generate loop end?", "学习笔记/generation.md"),  # a question's English pair, one note
])
def test_a_name_written_together_in_code_an_alias_or_one_sentence_finds_its_note(
    names: Searcher, query: str, path: str
) -> None:
    results = names.search(query)
    assert [hit.path for hit in results.hits][:1] == [path] and results.absent == [], results


def test_a_scan_judges_names_written_apart_as_the_index_does(tmp_path: Path) -> None:
    scan = scanned(root_with(tmp_path, NAMES))

    assert scan("graph attention network") == [] and scan("对抗样本训练") == [] and scan("支持向量") == []
    assert scan("toxicity classifier")[:1] == ["学习笔记/toxicity.md"] and scan("DP-SGD") == []
    assert scan("min-p") == [] and scan("mixture-of-experts")[:1] == ["学习笔记/moe.md"]
    assert scan("flash-attention-kernel")[:1] == ["学习笔记/fused.md"] and scan("KV-head")[:1] == ["学习笔记/gqa.md"]
    assert scan("how does the generate loop end?")[:1] == ["学习笔记/generation.md"]
    assert scan("测试集污染")[:1] == ["学习笔记/contamination.md"]
    # Planned without the glossary, 编译加速 is one compound, whose words the note does not write one after another
    # (the engine's plan searches them apart for 加速's aliases, and finds the note: see the test above).
    assert scan("编译加速") == []


SUBJECTS = {  # what a question asks about, named before it asks; the rest of its words are all in the notes
    "学习笔记/twin.md": f"# 工厂\n\n数字孪生只是举例。{FILLER}\n",
    "学习笔记/similarity.md": ("# 文本相似度\n\n模型判断两段文本是否相似：比较两段文本嵌入的余弦相似度。"
                              "网络在学习中得到这种表示。\n"),
    "学习笔记/reasoning.md": ("# Reasoning\n\n## Chain of Thought\n\nWriting out thoughts step by step helps the model"
                             " reason along one path. 模型沿着一条推理路径思考。\n\n## Search\n\nA search tree over "
                             "partial answers explores several paths.\n"),
    "学习笔记/moe.md": "# MoE\n\nA Mixture of Experts layer does routing: each token goes to two experts.\n",
    "学习笔记/ckpt.md": "# Checkpoints\n\nTo resume training, load the weights. Checkpoints live on disk.\n",
}


subjects = module_searcher(SUBJECTS)


@pytest.mark.parametrize(("question", "named"), [
    ("孪生网络是怎么学习判断两段文本是否相似的？", "孪生网络"),  # 孪生 only in 数字孪生, 网络 elsewhere
    ("Tree of Thoughts 提示法是怎么让模型同时探索多条推理路径的？", "Tree of Thoughts"),  # one note, two sections
    ("How does Tree of Thoughts prompting explore several reasoning paths?", "Tree of Thoughts"),
])
def test_a_question_whose_subject_the_notes_lack_is_refused_however_much_of_the_rest_they_hold(
    subjects: Searcher, question: str, named: str
) -> None:
    results = subjects.search(question)
    assert results.hits == [] and named in results.absent, results


@pytest.mark.parametrize(("question", "path"), [
    ("文本相似度是怎么判断的？", "学习笔记/similarity.md"),
    ("模型是怎么判断两段文本是否相似的", "学习笔记/similarity.md"),
    ("Chain of Thought 是怎么帮助模型推理的？", "学习笔记/reasoning.md"),  # a linked name written as one
    ("What is Mixture of Experts routing?", "学习笔记/moe.md"),
])
def test_a_question_whose_subject_the_notes_hold_finds_its_note(subjects: Searcher, question: str, path: str) -> None:
    results = subjects.search(question)
    assert [hit.path for hit in results.hits][:1] == [path] and results.absent == [], results


def test_keywords_a_linking_word_joins_are_one_name(subjects: Searcher) -> None:
    refused = subjects.search("tree of thoughts")  # one note, two sections: a search tree, the model's thoughts
    assert refused.hits == [] and "tree of thoughts" in refused.absent, refused
    assert [hit.path for hit in subjects.search("mixture of experts").hits][:1] == ["学习笔记/moe.md"]
    for relation in ("resume training from checkpoints", "load weights from disk"):  # a relation, not a name
        assert [hit.path for hit in subjects.search(relation).hits][:1] == ["学习笔记/ckpt.md"], relation


def test_a_scan_judges_a_questions_subject_as_the_index_does(tmp_path: Path) -> None:
    scan = scanned(root_with(tmp_path, SUBJECTS))

    assert scan("孪生网络是怎么学习判断两段文本是否相似的？") == []
    assert scan("Tree of Thoughts 提示法是怎么让模型同时探索多条推理路径的？") == []
    assert scan("模型是怎么判断两段文本是否相似的")[:1] == ["学习笔记/similarity.md"]
    assert scan("Chain of Thought 是怎么帮助模型推理的？")[:1] == ["学习笔记/reasoning.md"]
    assert scan("tree of thoughts") == [] and scan("mixture of experts")[:1] == ["学习笔记/moe.md"]


LISTS = {  # keywords listing several things a section holds, each in its own sentence
    "学习笔记/profiling.md": ("# Profiling\n\nWrap each step in an NVTX range. Annotations then show up in Nsight. "
                             "Its timeline lines up CPU and GPU events.\n"),
    "学习笔记/memory-viz.md": "# Memory\n\nWe dump the allocator's snapshot and visualize it in the browser.\n",
    "学习笔记/grpo.md": "# GRPO\n\n训练中模型的回答不断变长，这是长度上的偏差。\n",
}


lists = module_searcher(LISTS)


def test_four_keywords_or_more_are_a_list_whose_neighbours_need_only_share_a_section(lists: Searcher) -> None:
    assert [hit.path for hit in lists.search("NVTX range annotations Nsight timeline").hits][:1] == [
        "学习笔记/profiling.md"]
    two = lists.search("range annotations")  # two words side by side, a sentence apart in the notes: one name
    assert two.hits == [] and "range annotations" in two.absent


def test_keywords_that_describe_with_a_clause_are_searched_as_its_words(lists: Searcher, tmp_path: Path) -> None:
    query = "GRPO 回答越来越长 偏差"  # 越来越: the asker's clause, not a name the notes must write whole
    results = lists.search(query)
    assert [hit.path for hit in results.hits][:1] == ["学习笔记/grpo.md"] and results.absent == [], results
    assert scanned(root_with(tmp_path, LISTS))(query)[:1] == ["学习笔记/grpo.md"]


def test_a_noun_in_ization_finds_its_verb(lists: Searcher, tmp_path: Path) -> None:
    results = lists.search("snapshot visualization")  # and they are near: nearness reads the spelling found
    assert [hit.path for hit in results.hits][:1] == ["学习笔记/memory-viz.md"] and results.absent == [], results
    scan = scanned(root_with(tmp_path, LISTS))
    assert scan("snapshot visualization")[:1] == ["学习笔记/memory-viz.md"]
    assert scan("NVTX range annotations Nsight timeline")[:1] == ["学习笔记/profiling.md"]


WRITING = {  # how people write notes: wrapped lines, nested headings, abbreviations, a pathological title
    "学习笔记/gat.md": "# Graphs\n\nWe use graph\nattention networks for molecules.\n",
    "学习笔记/cuda.md": ("# Kernels\n\n## Kernel Fusion\n\nFewer trips to memory.\n\n### Launch overhead\n\n"
                        "Every kernel start costs microseconds.\n"),
    "学习笔记/refs.md": "# Refs\n\nSee Vaswani et al. 2017 for the model, and e.g. dropout for regularization.\n",
    "学习笔记/params.md": "# 参数\n\n模型的参数要先初始化。\n",
    "学习笔记/raft.md": "# Boats\n\nA rubber raft floats on the lake.\n",
    "学习笔记/draft.md": "# Writing\n\nThe first draft reached consensus quickly.\n",
    "学习笔记/moe.md": ("# MoE\n\nThe router picks two experts for every token.\n\n"
                       "Elsewhere in the block, the feed-forward layer uses SwiGLU.\n"),
    "学习笔记/long-title.md": "# " + "x. " * 9000 + "overflow\n\n## overflow heading\n\nbody text.\n",
    "学习笔记/flash.md": "# Kernels\n\nThe FlashAttention kernel fuses the softmax.\n",
    "学习笔记/launch-overhead.md": "# Kernel Fusion\n\nFewer trips to memory.\n",  # a title, then the file's words
    "学习笔记/fence.md": "# Tuning\n\nWe tune the optimizer\n```python\nx = 1\n```\nSchedules come later.\n",
}


writing = module_searcher(WRITING)


@pytest.mark.parametrize(("query", "path"), [
    ("graph attention networks", "学习笔记/gat.md"),  # a line that wraps prose goes on
    ('"Vaswani et al. 2017"', "学习笔记/refs.md"),  # a phrase across a full stop keeps its room
    ('"e.g. dropout"', "学习笔记/refs.md"),
    ('"模型的参数"', "学习笔记/params.md"),  # and across a stop word
    ("overflow heading", "学习笔记/long-title.md"),  # a title of 9,000 sentences stays in its zone
    ('"FlashAttention kernel"', "学习笔记/flash.md"),  # a phrase keeps the positions of the word as written
])
def test_notes_as_people_write_them_are_found_through_the_index(writing: Searcher, query: str, path: str) -> None:
    results = writing.search(query)
    assert [hit.path for hit in results.hits][:1] == [path], results
    assert results.index_state == "fresh" and not results.scanned


@pytest.mark.parametrize(("query", "named"), [
    ("fusion launch", "fusion launch"),  # parent and child headings, a title and a file's name: not one clause
    ("optimizer schedules", "optimizer schedules"),  # prose on either side of a code block
    ("how does raft consensus work?", "raft consensus"),  # raft is not in draft
    ("swiglu router", "swiglu router"),  # two glossary groups that share a word are not one alias for both
])
def test_words_the_notes_hold_only_in_separate_places_stay_an_absent_topic(
    writing: Searcher, query: str, named: str
) -> None:
    results = writing.search(query)
    assert results.hits == [] and named in results.absent, results


def test_a_word_the_notes_hold_only_inside_other_words_is_absent_for_the_scan_as_for_the_index(
    tmp_path: Path
) -> None:
    notes = {f"学习笔记/draft-{i}.md": f"# 写作 {i}\n\nThe first draft of chapter {i} 需要保证一致性。\n"
             for i in range(3)}
    notes["学习笔记/db.md"] = "# 数据库\n\n事务要保证一致性。分布式共识算法保证副本的一致性。\n"
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    searcher = Searcher(root)
    try:
        for query in ("raft是怎么保证一致性的", "raft 共识算法 一致性"):  # raft: only in draft
            indexed = searcher.search(query)
            assert indexed.hits == [] and indexed.absent == ["raft"], query
            assert scan(query) == [], query
    finally:
        searcher.close()


def test_a_scan_reads_notes_as_the_index_does(tmp_path: Path) -> None:
    scan = scanned(root_with(tmp_path, WRITING))

    assert scan("graph attention networks")[:1] == ["学习笔记/gat.md"]
    assert scan("fusion launch") == [] and scan("how does raft consensus work?") == []


CAPITALS = {  # an acronym the notes hold only in other senses (\cap, a variable, CapEx), and one they write
    "学习笔记/sets.md": (f"# 集合\n\n交集写作 $A \\cap B$，代码里 `logits = cap * tanh(logits / cap)`。{FILLER}\n"),
    "学习笔记/costs.md": f"# 成本\n\n训练是一次性的资本支出(CapEx)，推理是持续的运营支出。{FILLER}\n",
    "学习笔记/bayes.md": "# Bayes\n\nBayes theorem gives the posterior. 贝叶斯定理给出后验。\n",
    "学习笔记/kv.md": f"# KV 缓存\n\nGQA 让多个查询头共享一组 KV，KV cache 因此变小。{FILLER}\n",
    "学习笔记/habits.md": f"# 作息\n\n平时每天都要复习一遍。{FILLER}\n",
    "学习笔记/links.md": f"# 互联\n\nNVLink 连接同一台机器里的 GPU；LoRA 只训练低秩矩阵。{FILLER}\n",
}


capitals = module_searcher(CAPITALS)


@pytest.mark.parametrize(("query", "named"), [
    ("CAP theorem", "CAP"),  # cap is \cap, a variable and half of CapEx: the notes never name CAP
    ("CAP 定理要求在一致性和可用性之间怎么取舍", "CAP"),
    ("龙猫平时该喂什么", "龙猫"),  # the notes hold only the asker's wording (平时), not what it asks about
])
def test_a_topic_the_notes_hold_only_in_other_senses_or_the_askers_words_is_absent(
    capitals: Searcher, query: str, named: str
) -> None:
    assert capitals.search("theorem").hits and capitals.search("定理").hits and capitals.search("平时").hits
    results = capitals.search(query)
    assert results.hits == [] and named in results.absent, query
    assert results.notice and named in results.notice


@pytest.mark.parametrize(("query", "expected"), [
    ("GQA", "学习笔记/kv.md"), ("gqa", "学习笔记/kv.md"), ("GQA 为什么能让 KV cache 变小", "学习笔记/kv.md"),
    ("WHAT IS GQA", "学习笔记/kv.md"), ("cap", "学习笔记/sets.md"),
    ("NVLINK 连接", "学习笔记/links.md"), ("LORA 低秩", "学习笔记/links.md"),  # a name the notes write NVLink, LoRA
])
def test_an_acronym_the_notes_write_as_a_name_or_a_word_not_asked_in_capitals_is_found(
    capitals: Searcher, query: str, expected: str
) -> None:
    assert [hit.path for hit in capitals.search(query).hits][:1] == [expected], query


def test_a_scan_judges_acronyms_and_the_askers_words_as_the_index_does(tmp_path: Path) -> None:
    scan = scanned(root_with(tmp_path, CAPITALS))

    assert scan("CAP theorem") == [] and scan("龙猫平时该喂什么") == []
    assert scan("GQA")[:1] == ["学习笔记/kv.md"] and scan("theorem") == ["学习笔记/bayes.md"]
    assert scan("NVLINK 连接")[:1] == ["学习笔记/links.md"]



def test_an_acronym_finds_the_notes_that_write_its_plural(tmp_path: Path) -> None:
    notes = {"学习笔记/llms.md": f"# 模型\n\nLLMs are trained on GPUs. {FILLER}\n",
             "学习笔记/other.md": f"# 杂记\n\nGP and US and MS are other words. {FILLER}\n"}
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        for query in ("LLM", "GPU", "LLMs"):
            assert "学习笔记/llms.md" in [hit.path for hit in searcher.search(query).hits], query
    assert "学习笔记/llms.md" in scanned(root)("LLM")


def test_a_long_chinese_word_is_held_only_where_its_characters_are_written_together(tmp_path: Path) -> None:
    # 语法分析 is searched by its character pairs too (a note may cut it otherwise); 语法 in one sentence and 分析 in
    # the next hold those pairs, not the word. So do p and 值 apart for p值.
    notes = {
        "学习笔记/ppl.md": f"# 困惑度\n\n低困惑度的文本语法正确。方法分为两步，先分析再过滤。{FILLER}\n",
        "学习笔记/adamw.md": f"# AdamW\n\n对每个参数 p 计算更新，返回 loss 值。{FILLER}\n",
    }
    for written in (False, True):
        if written:
            notes["学习笔记/parser.md"] = f"# 编译\n\n编译器先做语法分析，再生成代码。{FILLER}\n"
        root = root_with(tmp_path / str(written), notes)
        scan = scanned(root)
        for searcher in warm_searcher(root):
            for query in ("p值是什么意思", "语法分析是怎么做的"):
                results = searcher.search(query)
                found = [hit.path for hit in results.hits][:1]
                if written and query.startswith("语法"):
                    assert found == scan(query)[:1] == ["学习笔记/parser.md"], results
                else:
                    assert found == scan(query) == [] and results.absent, results


def test_a_word_found_nowhere_one_slip_from_a_common_word_is_searched_in_its_place_and_said(tmp_path: Path) -> None:
    notes = {f"学习笔记/bpe-{i}.md":
             f"# BPE {i}\n\nThe tokenizer merges pairs; data is collected first, as recommended.\n" for i in range(4)}
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        results = searcher.search("recommender merges")  # another ending: another word (recommended), not a slip
        assert results.hits == [] and results.corrected == {}, results
        assert results.notice is not None and "Did you mean" not in results.notice
        results = searcher.search("tokenzier 的 merges")  # two letters swapped
        assert {hit.path for hit in results.hits} == set(notes), results
        assert results.absent == ["tokenzier"] and results.corrected == {"tokenzier": "tokenizer"}, results
        assert results.notice is not None and "these results are for tokenizer (for tokenzier)" in results.notice
        results = searcher.search("tokenizer mergse")  # six letters are enough to tell a slip (rotray, prefil)
        assert results.hits and results.corrected == {"mergse": "merges"}, results
        results = searcher.search("how does the tokenzier merge pairs so sloppily")  # and a word of the asker's
        assert results.hits and results.corrected == {"tokenzier": "tokenizer"}, results
        assert results.absent == ["tokenzier", "sloppily"] and results.notice is not None, results
        assert "No note contains sloppily either" in results.notice, results
        results = searcher.search("collector")  # two letters from collected: another word, not a slip
        assert results.hits == [] and results.corrected == {}, results
        assert results.notice is not None and "collected" not in results.notice
        # Meant, it would still have to be found with the rest of the query: a topic the notes lack stays so.
        results = searcher.search("tokenzier 遗传算法")
        assert results.hits == [] and results.corrected == {}, results
        assert results.notice is not None and "Did you mean tokenizer (for tokenzier)?" in results.notice


def test_a_comparison_with_a_thing_the_notes_lack_is_not_covered(tmp_path: Path) -> None:
    # How two things differ is in no note that lacks one of them; notes on the other alone are no answer.
    notes = {"学习笔记/git.md": f"# 版本控制\n\n用 git merge 合并分支，git add 暂存改动。{FILLER}\n",
             "学习笔记/adam.md": f"# 优化器\n\nAdamW 把权重衰减从 Adam 的梯度更新里解耦出来。{FILLER}\n"}
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        for question in ("git rebase和merge的区别", "merge跟rebase有什么不同", "git rebase vs git merge",
                         "how does git merge compare with git rebase?", "git merge 和 git rebase 有什么联系"):
            results = searcher.search(question)
            assert results.hits == [] and results.absent == ["rebase"], results
        assert [hit.path for hit in searcher.search("Adam和AdamW有什么区别").hits][:1] == ["学习笔记/adam.md"]
    assert scanned(root)("git rebase和merge的区别") == []


def test_compared_spans_name_what_a_question_compares() -> None:
    from server.search.questions import compared_spans

    def compared(text: str) -> list[str]:
        return [text[start:end] for start, end in compared_spans(text)]

    assert compared("git rebase和merge的区别") == ["git rebase", "merge"]
    assert compared("我想问，gqa跟mha之间有什么不同") == ["gqa", "mha"]
    assert compared("what is the difference between rebase and merge?") == ["rebase", "merge"]
    assert compared("adam vs sgd") == ["adam", "sgd"]
    assert compared("how does a bloom filter compare with a cuckoo filter") == ["bloom filter", "cuckoo filter"]
    assert compared("how do I compare two models") == []
    assert compared("RoPE和ALiBi有什么关系") == ["RoPE", "ALiBi"]  # how two things relate is asked of both
    assert compared("残差连接和层归一化跟dropout有什么关系") == []  # … of three, the notes may answer for some
    assert compared("what does the bitter lesson say about scale versus clever methods") == []
    assert compared("为什么训练更稳") == []


def test_the_compound_a_question_opens_with_must_be_written_as_a_name(tmp_path: Path) -> None:
    # 高斯混合模型怎么训练: what it names before asking is one name; 高斯 in one sentence and 混合 in the next are
    # no 高斯混合模型, as they are none for keywords.
    notes = {"学习笔记/gelu.md": (f"# GELU\n\nGELU 用高斯分布加权。混合精度训练让模型更快。{FILLER}\n")}
    apart = root_with(tmp_path / "apart", notes)
    for searcher in warm_searcher(apart):
        results = searcher.search("高斯混合模型怎么训练")
        assert results.hits == [] and results.absent, results
    assert scanned(apart)("高斯混合模型怎么训练") == []
    notes["学习笔记/gmm.md"] = f"# 聚类\n\n高斯混合模型用 EM 算法训练。{FILLER}\n"
    for searcher in warm_searcher(root_with(tmp_path / "named", notes)):
        assert [hit.path for hit in searcher.search("高斯混合模型怎么训练").hits][:1] == ["学习笔记/gmm.md"]


def test_a_definition_question_has_no_wording_of_its_own(tmp_path: Path) -> None:
    # A plain word no note holds weighs at most the topic's words in a question (it is as often the asker's
    # wording), but a question asking only what a term is holds nothing but the term.
    notes = {"学习笔记/sgd.md": "# SGD\n\nGradient descent runs on one machine or many.\n"}
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        results = searcher.search("what is a gradient boosting machine")
        assert results.hits == [] and "boosting" in results.absent, results
        assert searcher.search("why is gradient descent on one machine misleading").hits
        results = searcher.search("what is Gradient elimination")  # a capital weighs more; still one term
        assert results.hits == [] and results.absent == ["elimination"], results
    assert scanned(root)("what is a gradient boosting machine") == []


def test_a_two_word_name_a_question_opens_with_is_written_as_is(tmp_path: Path) -> None:
    # 混淆矩阵怎么看: 混淆 and 矩阵 in one clause (不要混淆这两个矩阵) are no 混淆矩阵, even where 矩阵 has a glossary
    # alias; as a keyword compound, the two must be written one after the other.
    notes = {"学习笔记/matmul.md": f"# 矩阵乘法\n\n不要混淆这两个矩阵的形状。{FILLER}\n"}
    apart = root_with(tmp_path / "apart", notes)
    for searcher in warm_searcher(apart):
        results = searcher.search("混淆矩阵怎么看")
        assert results.hits == [] and results.absent == ["混淆矩阵"], results
    assert scanned(apart)("混淆矩阵怎么看") == []
    notes["学习笔记/eval.md"] = f"# 分类评估\n\n混淆矩阵的行是真实类别。{FILLER}\n"
    for searcher in warm_searcher(root_with(tmp_path / "named", notes)):
        assert "学习笔记/eval.md" in [hit.path for hit in searcher.search("混淆矩阵怎么看").hits]


def test_a_coined_word_in_a_definition_question_is_a_name_of_its_own(tmp_path: Path) -> None:
    # As among keywords (BPE embedding), a coined word beside another is two names: ZeRO offload need not be
    # written as one. An acronym is not coined so (OS scheduler asks for the two together).
    notes = {"学习笔记/deepspeed.md": "# DeepSpeed\n\nZeRO shards optimizer state. Offload moves it to CPU memory.\n",
             "学习笔记/mac.md": "# Setup\n\nOn macOS, the OS picks the device; the LR scheduler warms up.\n"}
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        assert [hit.path for hit in searcher.search("what is ZeRO offload").hits] == ["学习笔记/deepspeed.md"]
        assert searcher.search("how does the OS scheduler work").hits == []


@pytest.mark.parametrize("question", ["what is the kernel trick", "how does face recognition work",
                                      "What's a kernel trick?", "explain face recognition",
                                      "what is Monte Carlo integration"])
def test_a_question_asking_to_define_a_term_of_two_or_three_words_wants_it_written_as_a_name(
    tmp_path: Path, question: str
) -> None:
    # What the question asks to define is a name, as two English keywords alone are: a kernel launch and a trick
    # to fuse kernels, or Hugging Face beside speech recognition, are no kernel trick and no face recognition.
    notes = {"学习笔记/gpu.md": "# Kernels\n\nEvery kernel launch costs time; one trick is to fuse kernels.\n",
             "学习笔记/hub.md": "# Hub\n\nHugging Face hosts speech recognition models.\n",
             "学习笔记/mcts.md": "# Search\n\nMonte Carlo tree search plays games; integration tests run nightly.\n"}
    apart = root_with(tmp_path / "apart", notes)
    for searcher in warm_searcher(apart):
        assert searcher.search(question).hits == [], question
    assert scanned(apart)(question) == []
    notes["学习笔记/svm.md"] = ("# Kernels\n\nThe kernel trick maps inputs to features. "
                               "Face recognition compares faces. Monte Carlo integration averages samples.\n")
    for searcher in warm_searcher(root_with(tmp_path / "named", notes)):
        assert "学习笔记/svm.md" in [hit.path for hit in searcher.search(question).hits], question


def test_an_english_word_the_notes_write_only_inflected_is_found_in_their_form(tmp_path: Path) -> None:
    notes = {
        "学习笔记/safety.md": f"# Safety\n\nJailbreaking prompts try to get around the refusal training. {FILLER}\n",
        "学习笔记/spike.md": f"# Stability\n\nA loss spike early in training. {FILLER}\n",
        "学习笔记/spikes.md": f"# Warmup\n\nWithout warmup the loss spikes. {FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        results = by_index_and_scan(searcher, scan, "jailbreak")  # the notes write only jailbreaking
        assert [hit.path for hit in results.hits] == ["学习笔记/safety.md"], results
        # A word some note writes as asked is searched as written: the ranking of a covered query stays as it was.
        results = by_index_and_scan(searcher, scan, "spike")
        assert [hit.path for hit in results.hits] == ["学习笔记/spike.md"], results


def test_a_comparison_puts_sections_holding_each_thing_compared_first(tmp_path: Path) -> None:
    notes = {  # the first note holds more of the question's words, but says nothing of tensor parallelism
        "学习笔记/ddp.md": "# Data parallel training\n\nData parallel training copies the model; data parallel "
                          f"training averages gradients after each training step. {FILLER}\n",
        "学习笔记/both.md": "# Parallelism\n\nData parallel splits the batch; tensor parallel splits each matrix. "
                           f"{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        for query in ("what is the difference between data parallel and tensor parallel training",
                      "data parallel 和 tensor parallel training 有什么区别"):
            results = searcher.search(query)
            assert [hit.path for hit in results.hits][:1] == scan(query)[:1] == ["学习笔记/both.md"], results
            assert [hit.match for hit in results.hits] == ["full", "partial"], results


def test_a_questions_verb_finds_the_verb_the_notes_use_for_the_same_act(tmp_path: Path) -> None:
    notes = {
        "学习笔记/low.md": f"# 低精度计算\n\n低精度计算能加速训练速度：吞吐更高，访存更少。{FILLER}\n",
        "学习笔记/other.md": f"# 数据加载\n\n多进程加载数据，训练速度更快。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        results = searcher.search("为什么低精度计算能加快训练速度")
        assert [hit.path for hit in results.hits][:1] == ["学习笔记/low.md"], results
        assert results.hits[0].match == "full" and results.hits[0].aliases == ["加速"], results
        for hit in searcher.search("低精度计算 加快").hits:  # keywords are searched as written
            assert "加快" in hit.missing or ("加快" in hit.matched and "加速" not in hit.aliases), hit


def test_a_long_stretch_of_a_question_is_the_askers_sentence_not_one_name(tmp_path: Path) -> None:
    notes = {  # 训练, 模型 and 合理 never meet in one section: only a name would have to be written together
        "学习笔记/copyright.md": f"# 版权\n\n受版权保护的作品能否用于训练？要看是否属于合理使用。{FILLER}\n",
        "学习笔记/model.md": f"# 模型\n\n模型的参数量与层数。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        results = searcher.search("用受版权保护的书训练模型算合理使用吗")
        assert [hit.path for hit in results.hits][:1] == ["学习笔记/copyright.md"], results
        assert searcher.search("联邦学习模型怎么训练").hits == []  # a short stretch still names one thing



def test_results_for_the_rest_of_a_query_say_which_of_its_words_no_note_holds(tmp_path: Path) -> None:
    notes = {"学习笔记/rope.md": f"# RoPE\n\nRoPE 在 Transformer 里旋转 query 和 key。{FILLER}\n"}
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        results = searcher.search("RoPE 在 Transformer 里怎么用 dropout")  # a plain word found nowhere: no topic
        assert [hit.path for hit in results.hits][:1] == ["学习笔记/rope.md"] and results.absent == ["dropout"], results
        assert results.notice is not None and results.notice.startswith("no note contains dropout;"), results
        assert searcher.search("RoPE Transformer").notice is None


def test_two_english_words_making_up_a_thing_compared_are_one_name(tmp_path: Path) -> None:
    notes = {  # prompt, prefix and tuning are all here, but no note writes prompt tuning or prefix tuning
        "学习笔记/cache.md": f"# Prefix caching\n\nShared prompt prefix; tuning the batch size. {FILLER}\n",
        "学习笔记/norm.md": f"# Norms\n\nPre norm puts the norm first; post norm after the residual. {FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        results = by_index_and_scan(searcher, scan, "prompt tuning 和 prefix tuning 有什么区别")
        assert results.hits == [] and results.absent, results
        results = by_index_and_scan(searcher, scan, "what is the difference between pre norm and post norm")
        assert [hit.path for hit in results.hits] == ["学习笔记/norm.md"]


def test_a_links_scheme_is_not_the_word_http(tmp_path: Path) -> None:
    notes = {
        "学习笔记/links.md": f"# 参考\n\n- https://arxiv.org/abs/2203.15556\n- http://example.com/crawl\n\n{FILLER}\n",
        "学习笔记/warc.md": f"# WARC\n\nA WARC record keeps the HTTP headers of each response. {FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        for query in ("HTTP headers", "http"):
            assert [hit.path for hit in by_index_and_scan(searcher, scan, query).hits] == ["学习笔记/warc.md"]
        assert [hit.path for hit in searcher.search("arxiv").hits] == ["学习笔记/links.md"]  # the rest of a link stays


def test_two_capitalised_english_words_in_a_question_are_one_name(tmp_path: Path) -> None:
    notes = {  # stable and diffusion are here, in other senses; no note writes Stable Diffusion
        "学习笔记/wsd.md": f"# WSD\n\nThe stable phase keeps the rate flat; diffusion LMs denoise 图片. {FILLER}\n",
        "学习笔记/cc.md": f"# 数据\n\nCommon Crawl 的网页很脏，要先过滤。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        results = by_index_and_scan(searcher, scan, "Stable Diffusion 是怎么生成图片的")
        assert results.hits == [] and "Stable Diffusion" in results.absent, results
        results = by_index_and_scan(searcher, scan, "Common Crawl 的网页为什么很脏")
        assert [hit.path for hit in results.hits] == ["学习笔记/cc.md"]


def test_mu_p_and_iso_flops_are_found_under_their_other_spellings(tmp_path: Path) -> None:
    notes = {
        "学习笔记/mup.md": f"# muP\n\nmuP keeps the learning rate stable as width grows. {FILLER}\n",
        "学习笔记/iso.md": f"# IsoFLOPs\n\nFix the compute, vary the model size. {FILLER}\n",
    }
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        assert [hit.path for hit in searcher.search("μP").hits] == ["学习笔记/mup.md"]
        assert [hit.path for hit in searcher.search("等算力").hits][:1] == ["学习笔记/iso.md"]


def test_top_p_sampling_is_found_under_its_other_names(tmp_path: Path) -> None:
    notes = {  # the notes write Top-P 采样 and top-p; the asker says nucleus sampling or 核采样
        "学习笔记/decode.md": f"# 解码\n\nTop-P 采样只保留累计概率达到 p 的词。{FILLER}\n",
        "学习笔记/bpe.md": f"# BPE\n\nSampling a merge order from the counts. {FILLER}\n",
    }
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        for query in ("top-p sampling", "nucleus sampling", "核采样是什么"):
            assert [hit.path for hit in searcher.search(query).hits][:1] == ["学习笔记/decode.md"], query


def test_speculative_decoding_finds_the_notes_on_tou_ji_cai_yang(tmp_path: Path) -> None:
    notes = {"学习笔记/spec.md": f"# 投机采样\n\n小模型先猜，大模型一次验证。{FILLER}\n"}
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        assert [hit.path for hit in searcher.search("speculative decoding").hits] == ["学习笔记/spec.md"]


@pytest.mark.parametrize(("query", "note"), [
    ("梯度消失", "# Vanishing gradients\n\nDeep nets without residuals suffer from vanishing gradients."),
    ("教师强制", "# Teacher forcing\n\nThe decoder is fed the gold previous token."),
    ("low-rank adaptation", "# 低秩适配\n\n只训练两个小矩阵。"),
    ("个人身份信息 过滤", "# PII\n\nMask PII before training; 过滤 emails and phone numbers."),
])
def test_course_terms_are_found_in_the_other_language(tmp_path: Path, query: str, note: str) -> None:
    notes = {"学习笔记/term.md": f"{note} {FILLER}\n", "学习笔记/other.md": f"# 其他\n\n别的内容。{FILLER}\n"}
    for searcher in warm_searcher(root_with(tmp_path, notes)):
        assert [hit.path for hit in searcher.search(query).hits][:1] == ["学习笔记/term.md"], query


def test_two_english_keywords_of_one_name_follow_each_other_at_once(tmp_path: Path) -> None:
    notes = {
        "学习笔记/grpo.md": f"# GRPO\n\nThe loss combines the policy gradient and KL penalty terms. {FILLER}\n",
        "学习笔记/amp.md": f"# AMP\n\nMixed-precision training keeps an fp32 master copy. {FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        results = by_index_and_scan(searcher, scan, "gradient penalty")  # gradient KL penalty is no gradient penalty
        assert results.hits == [] and results.absent == ["gradient penalty"]
        results = by_index_and_scan(searcher, scan, "mixed-precision training")  # a part takes a position each
        assert [hit.path for hit in results.hits] == ["学习笔记/amp.md"]


def test_two_english_neighbours_of_a_question_are_found_in_the_notes_inflection(tmp_path: Path) -> None:
    notes = {  # encode and relative are in no note together; one section writes encodes relative
        "学习笔记/rope.md": f"# RoPE\n\nRoPE encodes relative position by rotating query and key. {FILLER}\n",
        "学习笔记/bpe.md": f"# BPE\n\nWe encode text into bytes. {FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        query = "how does rotary position embedding encode relative position"
        assert [hit.path for hit in searcher.search(query).hits][:1] == scan(query)[:1] == ["学习笔记/rope.md"]


def test_a_question_whether_one_thing_applies_to_another_needs_both_in_one_section(tmp_path: Path) -> None:
    notes = {
        "学习笔记/rope.md": f"# RoPE\n\nRoPE 在长上下文里也好外推: it extends to long context. {FILLER}\n",
        "学习笔记/anomaly.md": f"# 异常检测\n\n时间序列异常检测先平滑，再看残差。{FILLER}\n",
        "学习笔记/clouds.md": f"# Point clouds\n\nA point cloud is an unordered set of points. {FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        for question, target in (("RoPE 能用在时间序列异常检测上吗？", "时间序列异常检测"),
                                 ("RoPE 能不能用于时间序列异常检测", "时间序列异常检测"),
                                 ("RoPE 能不能直接拿来做时间序列异常检测", "时间序列异常检测"),
                                 ("RoPE 对时间序列异常检测也适用吗", "时间序列异常检测"),
                                 ("can RoPE be applied to point clouds?", "point clouds")):
            results = by_index_and_scan(searcher, scan, question)  # RoPE's note says nothing of the other
            assert results.hits == [] and results.notice is not None, results
            assert results.notice.startswith(f"no note holds RoPE and {target} together"), results
        for question in ("RoPE 能用在长上下文上吗", "does RoPE work for long context?"):
            assert [hit.path for hit in by_index_and_scan(searcher, scan, question).hits] == ["学习笔记/rope.md"]


@pytest.mark.parametrize(("question", "spans"), [
    ("旋转位置编码能用在时间序列异常检测上吗？", ["旋转位置编码", "时间序列异常检测"]),
    ("RoPE能不能用于点云", ["RoPE", "点云"]),
    ("DPO 能不能用来训练扫地机器人？", ["DPO ", "训练扫地机器人"]),
    ("奖励模型可以直接拿来给作文打分吗", ["奖励模型", "作文打分"]),
    ("muP 对卷积网络的通道数也成立吗？", ["muP ", "卷积网络的通道数"]),  # what holds of it, for another thing
    ("muP 对卷积网络为什么不成立", []),
    ("Does BPE tokenization work for DNA sequences?", ["Does BPE tokenization ", "DNA sequences"]),
    ("can RoPE be applied to point clouds?", ["can RoPE be ", "point clouds"]),
    ("用于训练的数据怎么清洗", []),  # the question is about what follows 用于
    ("混合精度能用在什么地方", []),  # … or asks where
    ("GQA为什么能用于长上下文", []),  # a why or how question: it applies, and something else is asked
    ("why is RoPE applied to queries and keys but not values", []),
    ("torch.autocast 在 benchmarking 作业里怎么用", []),  # a setting, not a thing it may apply to
    ("为什么 pin_memory 能加速", []),
])
def test_a_question_names_its_subject_and_what_it_asks_it_applies_to(question: str, spans: list[str]) -> None:
    from server.search.questions import applied_spans

    assert [question[start:end] for start, end in applied_spans(question)] == spans


def test_once_and_past_frame_an_english_question(tmp_path: Path) -> None:
    notes = {  # grows and past are each in a note, never together: a name's words, had they not framed it
        "学习笔记/batch.md": f"# Critical batch size\n\nBeyond the critical batch size, returns diminish. {FILLER}\n",
        "学习笔记/loss.md": f"# Loss\n\nThe loss grows when the learning rate is too high. {FILLER}\n",
        "学习笔记/history.md": f"# History\n\nIn the past, models were trained on one GPU. {FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for searcher in warm_searcher(root):
        question = "why do returns diminish once the batch grows past the critical batch size?"
        assert by_index_and_scan(searcher, scan, question).hits[0].path == "学习笔记/batch.md"


def test_an_english_name_no_note_holds_in_a_chinese_question_is_a_topic_they_lack(tmp_path: Path) -> None:
    notes = {
        "学习笔记/loop.md": f"# Training loop\n\nThe python training loop logs every event. {FILLER}\n",
        "学习笔记/cache.md": f"# KV cache\n\nKV cache 的设计：显存占用按层数、头数和长度算。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        results = searcher.search("python asyncio event loop 怎么理解")  # python, event and loop: another topic
        assert results.hits == [] and results.absent == ["asyncio"], results
        results = searcher.search("KV cache 放在 redis 里怎么设计")
        assert results.hits == [] and results.absent == ["redis"], results
        # One slip of the keys from a word the notes hold is the asker's typo, not a name.
        assert "学习笔记/cache.md" in [hit.path for hit in searcher.search("KV cahce 显存占用怎么算").hits]


def test_keywords_whose_rarest_word_no_note_holds_are_a_topic_the_notes_lack(tmp_path: Path) -> None:
    notes = {  # 变异 and 交叉 are here, for other reasons; 遗传算法 is not
        "学习笔记/mutation.md": f"# 数据增强\n\n对样本做变异，再和原样本交叉比较。{FILLER}\n",
        "学习笔记/tp.md": f"# Tensor parallelism\n\nMegatron 的张量并行：列切分再行切分。{FILLER}\n",
        **{f"学习笔记/dp-{i}.md": f"# Data parallelism {i}\n\nEach rank holds a replica. {FILLER}\n" for i in range(3)},
    }
    root = root_with(tmp_path, notes)
    for searcher in warm_searcher(root):
        results = searcher.search("遗传算法 交叉 变异")
        assert results.hits == [] and results.absent == ["遗传算法"], results
        # … unless it is one slip of the keys from a word the notes hold (parallelism)
        results = searcher.search("Megatron tensor paralelism 列切分 行切分")
        assert "学习笔记/tp.md" in [hit.path for hit in results.hits], results


def test_knowing_and_not_fitting_are_the_askers_verbs_not_names(tmp_path: Path) -> None:
    notes = {  # no clause writes 放不下 beside 模型, nor 知道 beside 测试题
        "学习笔记/memory.md": f"# 显存\n\n显存不够时用梯度检查点；模型放在多张卡上。放不下就切分。{FILLER}\n",
        "学习笔记/contamination.md": f"# 污染\n\n测试题混进了训练数据，模型就会背答案。我们知道这点。{FILLER}\n",
    }
    root = root_with(tmp_path, notes)
    scan = scanned(root)
    for question, path in (("显存不够 放不下模型 怎么办", "学习笔记/memory.md"),
                           ("怎么知道测试题是不是已经被模型背过了", "学习笔记/contamination.md")):
        for searcher in warm_searcher(root):
            assert searcher.search(question).hits[0].path == path
        assert scan(question)[:1] == [path]
