"""The analyzer (index terms, query plans), the glossary and snippets: pure functions, no index."""

from pathlib import Path

import pytest

from server.search.analyzer import fold, index_terms, plan_query, term_set
from server.search.glossary import Glossary, parse_glossary_markdown
from server.search.snippets import make_snippet


def terms(text: str) -> list[str]:
    return [t[0] for t in index_terms(text)]


def test_a_chinese_word_is_found_inside_a_longer_run_through_its_bigrams() -> None:
    present = term_set("多头注意力机制是核心")
    unit = plan_query("注意力").units[0]
    assert unit.matched_by(present)
    assert {"注意", "意力", "注意力"} <= present


def test_a_query_segmented_differently_from_the_note_still_matches() -> None:
    present = term_set("自注意力机制")
    assert all(unit.matched_by(present) for unit in plan_query("注意力机制").units)


def test_function_words_are_dropped_and_split_the_bigrams() -> None:
    found = terms("注意力的计算")
    assert "的" not in found and "力的" not in found and "的计" not in found
    assert "计算" in found


@pytest.mark.parametrize(("text", "word"), [
    ("每次会话开始时", "会话"), ("端到端训练", "端到端"), ("跳过这一步", "跳过"),
    ("序列时长", "时长"), ("专家亲和度", "亲和度"), ("加速比很高", "加速比"),
])
def test_a_word_the_dictionary_lacks_keeps_its_function_character(text: str, word: str) -> None:
    assert word in terms(text)  # not 话 alone, 端 twice, 跳, 长, 亲 and 度, 加速
    assert [unit.text for unit in plan_query(word).units] == [word]


def test_the_segmenter_takes_its_words_before_any_thread_cuts(monkeypatch: pytest.MonkeyPatch) -> None:
    """rjieba refuses to add a word while another thread cuts ("Already borrowed"): the first searches of a
    server, on several threads, raced the loading."""
    import threading

    import rjieba

    from server.search.analyzer import SEGMENTER_WORDS, _Jieba

    adding, release = threading.Event(), threading.Event()
    inside: list[str] = []
    calls: list[str] = []
    real_add, real_cut = rjieba.add_word, rjieba.cut

    def add_word(word: str, freq: int | None, tag: str | None) -> int:
        inside.append(word)
        calls.append("add")
        adding.set()
        if len(calls) == 1:
            release.wait(5)  # the first word takes long: another thread asks for a cut meanwhile
        inside.remove(word)
        return int(real_add(word, freq, tag))

    def cut(text: str, hmm: bool = True) -> list[str]:
        calls.append("cut while adding" if inside else "cut")
        return list(real_cut(text, hmm))

    monkeypatch.setattr(rjieba, "add_word", add_word)
    monkeypatch.setattr(rjieba, "cut", cut)
    segmenter = _Jieba()
    first = threading.Thread(target=segmenter.load)
    first.start()
    assert adding.wait(5)
    second = threading.Thread(target=segmenter.cut, args=("会话记忆",))
    second.start()
    second.join(0.3)  # it waits for the loading thread, not for the words
    release.set()
    first.join(5)
    second.join(5)
    assert "cut while adding" not in calls
    assert calls.count("add") == len(SEGMENTER_WORDS)  # loaded once


def test_a_function_character_beside_such_a_word_is_still_dropped() -> None:
    assert terms("他会说话") == ["说话"]  # 会 as a modal verb: a dictionary word follows, not a lone character


def test_kv_cache_keeps_kv_whole_beside_chinese_and_english() -> None:
    assert terms("KV缓存") == ["kv", "缓存"]
    assert terms("KV Cache") == ["kv", "cache"]


def test_full_width_text_folds_to_ascii() -> None:
    assert terms("ＫＶ缓存") == ["kv", "缓存"]
    assert fold("ＦｌａｓｈＡｔｔｅｎｔｉｏｎ") == "FlashAttention"


def test_traditional_characters_fold_to_simplified_one_for_one() -> None:
    assert fold("張量並行的記憶體") == "张量并行的记忆体"  # a character's form, not a region's word (内存)
    assert terms("混合精度訓練") == terms("混合精度训练")
    text = "這裡講ＫＶ快取與張量並行。"
    assert len(fold(text)) == len(text)  # snippets and positions index the text as written


def test_the_table_of_traditional_characters_is_built_once_however_many_threads_ask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    from server.search import chinese_script

    builds: list[int] = []
    build = chinese_script._build

    def counted() -> object:
        builds.append(1)
        return build()

    monkeypatch.setattr(chinese_script, "_built", None)
    monkeypatch.setattr(chinese_script, "_build", counted)
    threads = [threading.Thread(target=chinese_script.to_simplified, args=("張量",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1


def test_a_snippet_marks_traditional_characters_found_by_their_simplified_form() -> None:
    assert "**張量並行**" in make_snippet("前文很长。" * 30 + "這一節講張量並行。", ["张量", "并行"])


def test_identifiers_are_kept_whole_and_split_into_parts() -> None:
    assert terms("pin_memory") == ["pin_memory", "pin", "memory"]
    assert terms("FlashAttention") == ["flashattention", "flash", "attention"]
    assert terms("torch.compile") == ["torch.compile", "torch", "compile"]
    assert terms("KVCache") == ["kvcache", "kv", "cache"]


def test_digits_with_letters_stay_one_term() -> None:
    assert terms("7B fp16 H100") == ["7b", "fp16", "h100"]


def test_words_of_two_sentences_are_a_sentence_gap_apart_and_one_sentences_words_are_not() -> None:
    from server.search.analyzer import SENTENCE_GAP

    for text, before, after in [("向量相加。更重要的是，它天然支持", "相加", "重要"),
                                ("It adds vectors. Then it supports them", "vectors", "supports"),
                                ("- first item\n- second item", "first", "second"),  # a list item, a heading,
                                ("first paragraph\n\nsecond paragraph", "first", "second"),  # or a blank line
                                ("ends with a stop.\nsecond line", "stop", "second"),
                                ("问题：为什么？答案在下面；不用急", "问题", "答案"),
                                ("> **编辑蓝图**\n>\n> **知识结构**", "编辑", "知识"),  # a quote's paragraphs,
                                ("> 引用开头\n> - 引用里的列表", "开头", "列表")]:  # and its list items
        at = dict(index_terms(text))
        assert at[after] - at[before] > SENTENCE_GAP, text
    at = dict(index_terms("JIT 编译器, 旨在通过最少的代码改动来显著加速. torch.compile v1.2 e.g"))
    assert at["加速"] - at["编译"] == 17 and at["compile"] == at["torch"] + 1 and at["v1.2"] == at["compile"] + 1
    # A line that wraps prose goes on; a full stop or an ellipsis before Chinese ends nothing (1.数据, 注意力……机制).
    for text, before, after in [("we use graph\nattention networks", "graph", "attention"),
                                ("> we use graph\n> attention networks", "graph", "attention"),  # a quote wraps
                                ("we use graph\n*attention* networks", "graph", "attention"),  # no list item
                                ("the score drops below\n3.5 points", "below", "3.5"),
                                ("1.数据清洗", "1", "数据"), ("注意力……机制", "注意力", "机制")]:
        at = dict(index_terms(text))
        assert 0 < at[after] - at[before] < SENTENCE_GAP, text


def test_english_is_not_stemmed_and_noise_words_are_dropped() -> None:
    assert terms("the tokenizer of tokens") == ["tokenizer", "tokens"]


def test_parts_of_an_identifier_take_consecutive_positions_so_phrases_match_either_spelling() -> None:
    positions = dict(index_terms("x pin_memory"))
    assert positions["pin"] == positions["pin_memory"] == positions["memory"] - 1


def test_pin_memory_query_matches_the_identifier_and_the_two_words() -> None:
    unit = plan_query("pin_memory").units[0]
    assert unit.matched_by(term_set("loader(pin_memory=True)"))
    assert unit.matched_by(term_set("use pin memory for faster copies"))
    assert not unit.matched_by(term_set("pinned buffers"))


def test_query_syntax_characters_are_plain_text() -> None:
    plan = plan_query('a (b) AND "c d" OR NOT e* f? ~g ^h [j')
    assert [u.text for u in plan.units] == ["b", "c", "d", "e", "f", "g", "h", "j"]
    assert plan.phrases == [(("c", 0), ("d", 1))]


def test_the_parts_of_contractions_and_possessives_are_no_query_words() -> None:
    units = plan_query("why doesn't a transformer’s residual stream grow? they're fine, we've seen it, DON'T, don‘t")
    assert [unit.text for unit in units.units] == ["transformer", "residual", "stream", "grow", "fine", "seen"]
    assert [unit.text for unit in plan_query("the 're module").units] == ["re", "module"]  # a quote, not a tail


def test_a_query_of_noise_words_has_no_units() -> None:
    assert plan_query("the of 的 是").units == []


def test_the_builtin_glossary_links_chinese_and_english_terms() -> None:
    glossary = Glossary.builtin()
    assert len(glossary) >= 80
    (expansion,) = glossary.expand("什么是KV缓存")
    assert expansion.matched == "KV缓存"
    assert "KV cache" in expansion.aliases
    (mixed,) = glossary.expand("kv-cache size")
    assert "KV缓存" in mixed.aliases


def test_a_glossary_term_inside_a_longer_one_yields_only_the_longer() -> None:
    (expansion,) = Glossary.builtin().expand("多头注意力的实现")
    assert expansion.matched == "多头注意力"
    assert "multi-head attention" in expansion.aliases


def test_a_glossary_word_is_not_found_inside_a_longer_english_word() -> None:
    assert all(e.matched != "attention" for e in Glossary.builtin().expand("FlashAttentionV2 kernels"))


def test_a_glossary_term_across_the_persons_space_gives_way_to_the_words_they_wrote() -> None:
    glossary = Glossary([["精度损失", "precision loss"], ["混合精度", "mixed precision"], ["损失缩放", "loss scaling"]])
    assert [e.matched for e in glossary.expand("混合精度 损失缩放")] == ["混合精度", "损失缩放"]
    assert [e.matched for e in glossary.expand("精度 损失")] == ["精度 损失"]  # alone, it is what they wrote
    assert "精度损失" in [e.matched for e in glossary.expand("混合精度损失缩放")]  # no space: jieba's call


def test_the_person_glossary_parses_list_lines_and_merges_with_builtin_groups() -> None:
    text = "# 术语表\n\n- 切词器 = 分词器\n* **显存** ＝ VRAM\n- 不是一组\n普通 = 行\n"
    groups = parse_glossary_markdown(text)
    assert groups == [["切词器", "分词器"], ["显存", "VRAM"]]
    (expansion,) = Glossary.builtin().extended(groups).expand("切词器")
    assert "tokenizer" in expansion.aliases


def test_a_snippet_marks_terms_and_stays_near_two_hundred_characters() -> None:
    text = "前言。" * 80 + "在推理阶段，KV缓存把键和值存起来，避免重复计算；注意力的每一层都有缓存。" + "后记。" * 80
    snippet = make_snippet(text, ["kv", "缓存", "注意", "意力"])
    assert "**KV缓存**" in snippet and "**注意力**" in snippet
    assert 150 <= len(snippet.replace("**", "")) <= 280
    assert snippet.startswith("… ") and snippet.endswith(" …")


def test_a_snippet_cuts_at_a_sentence_end_and_never_inside_a_mark() -> None:
    text = "第一句话很长很长。" * 20 + "这里讲梯度累积的做法。" + "后面的句子也很长。" * 20
    snippet = make_snippet(text, ["梯度", "累积"], width=60)
    body = snippet.removeprefix("… ").removesuffix(" …")
    assert body.startswith(("第一句", "这里", "后面")) and body.endswith("。")
    assert snippet.count("**") % 2 == 0


def test_a_snippet_marks_the_right_characters_when_folding_changes_the_text_length() -> None:
    text = "省略号…连字ﬁle和①，" * 40 + "这里讲ＫＶ缓存。" + "İstanbul…" * 40
    snippet = make_snippet(text, ["kv", "缓存"])
    assert "**ＫＶ缓存**" in snippet


def test_a_snippet_without_matches_is_the_start_of_the_text() -> None:
    assert make_snippet("Short text with **bold**.", ["zzz"]) == "Short text with bold."


@pytest.mark.parametrize("text", ["", "   ", "。。。", "```\ncode\n```"])
def test_odd_texts_give_no_error(text: str) -> None:
    assert isinstance(make_snippet(text, ["x"]), str)
    assert isinstance(terms(text), list)


def _wrong_pairs() -> list[dict[str, str]]:
    import tomllib
    from pathlib import Path

    path = Path(__file__).with_name("glossary_wrong_pairs.toml")
    return list(tomllib.loads(path.read_text(encoding="utf-8"))["pair"])


@pytest.mark.parametrize("pair", _wrong_pairs(), ids=lambda pair: f"{pair['a']}-{pair['b']}")
def test_the_builtin_glossary_never_equates_a_known_wrong_pair(pair: dict[str, str]) -> None:
    glossary = Glossary.builtin()
    for source, wrong in ((pair["a"], pair["b"]), (pair["b"], pair["a"])):
        aliases = {alias.casefold() for expansion in glossary.expand(source) for alias in expansion.aliases}
        assert wrong.casefold() not in aliases, pair["why"]


# --- questions and compounds ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["为什么要用KV缓存", "RoPE 和 ALiBi 有什么区别？", "why is attention quadratic",
                                   "difference between BPE and WordPiece", "什么是梯度累积",
                                   "有没有办法不用两两比对就找出近似重复的文档", "训练是不是一定要用混合精度",
                                   "FFN的维度一般是d_model的几倍", "KV cache有多大", "FSDP难不难", "RoPE好在哪"])
def test_questions_are_told_from_keywords(query: str) -> None:
    assert plan_query(query).question


@pytest.mark.parametrize("query", ["KV缓存 显存", "gradient accumulation", "混合精度训练"])
def test_keywords_are_not_questions(query: str) -> None:
    assert not plan_query(query).question


def test_question_words_only_frame_a_question() -> None:
    plan = plan_query("why is flash attention so much faster")
    framing = {unit.text for unit in plan.units if unit.framing}
    assert {"much", "faster"} - framing == {"faster"}  # "faster" is content; "much" frames
    assert "flash" not in framing and "attention" not in framing


def test_the_particle_of_a_phrasal_verb_only_frames_a_question() -> None:
    plan = plan_query("how do sparse autoencoders pull features out of the residual stream, and speed up training")
    framing = {unit.text for unit in plan.units if unit.framing}
    assert framing == {"out", "up"}  # pull out, speed up: no topic is named "out"


def test_when_in_a_question_is_the_askers_wording() -> None:
    plan = plan_query("联邦学习训练的时候是怎么保护用户隐私的")
    assert [unit.text for unit in plan.units if unit.framing] == ["时候"]


def test_a_short_keyword_segment_is_one_compound_unit() -> None:
    (unit,) = plan_query("生成对抗网络").units
    assert unit.text == "生成对抗网络"
    assert len(unit.options) == 1 and set(unit.options[0]) >= {"生成", "对抗", "网络"}


def test_a_lone_character_of_a_compound_may_pair_with_either_neighbour() -> None:
    (unit,) = plan_query("测试集污染").units  # jieba: 测试 / 集 / 污染; the notes write 测试集, never 集污
    assert unit.joined and unit.matched_by(term_set("训练-测试污染：模型见过测试集中的数据"))
    assert not unit.matched_by(term_set("测试很重要。数据也会污染。"))


def test_a_compound_of_lone_characters_has_each_way_of_pairing_them_once() -> None:
    (unit,) = plan_query("鑫淼犇骉垚焱煜").units
    assert len(set(unit.options)) == len(unit.options)
    assert not any(set(a) < set(b) for a in unit.options for b in unit.options)


def test_a_question_keeps_its_words_as_separate_units() -> None:
    texts = [unit.text for unit in plan_query("为什么生成对抗网络难训练").units if not unit.framing]
    assert "生成对抗网络" not in texts and "对抗" in texts


def test_a_character_written_onto_a_word_belongs_to_it() -> None:
    unit = next(unit for unit in plan_query("B+树的原理").units if unit.text.startswith("b"))
    assert unit.named and unit.options == (("b+", "树"),)


def test_english_variants_find_the_stem() -> None:
    from server.search.questions import english_variants

    assert "slow" in english_variants("slower")
    assert "train" in english_variants("trained")
    assert "stop" in english_variants("stopped")
    assert english_variants("loss") == [] and english_variants("gpus") == []


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "cs336"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
MIXED_LINES = ("KV缓存 的显存占用与 seq_len 成正比。", "- [ ] 实测 FlashAttention-2 的 tiling", "",
               "1. `RoPE深度讨论.md` - 旋转", "## 第十讲 Inference", "```python", "x = torch.zeros(4096)  # 注释",
               "卡拉OK 和 GPU显存", "ａｂｃ１２３ 全角", "她……", "> A. 用肥皂冲洗。", "。开头的句号", "Done. Next!",
               "- item.", "1) 第一项", "＃ 全角标题", "wrapped line.", "  ", "\t- nested item", "v2.模型",
               "the quick brown fox", "   ", "注意", "力机制", "pin_memory=True", "\r", "…省略号", ">", "> ",
               "> > 嵌套引用", ">\t", "> - 引用里的列表", "> **知识结构**: 引用", "-> 箭头", ">>> x = 1")


def _same_terms_line_by_line(text: str, start: int) -> None:
    from server.search import analyzer

    whole = analyzer._terms(text, start)[0]
    analyzer._line_terms.cache_clear()
    assert analyzer.index_terms(text, start) == whole  # lines analyzed, then kept
    assert analyzer.index_terms(text, start) == whole  # lines from the cache


def test_a_long_text_taken_line_by_line_has_the_terms_of_a_whole_text_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import random

    from server.search import analyzer

    monkeypatch.setattr(analyzer, "LINE_CACHE_FROM", 0)
    rng = random.Random(336)
    for _ in range(200):
        text = "\n".join(rng.choice(MIXED_LINES) for _ in range(rng.randint(1, 30)))
        _same_terms_line_by_line(text, rng.choice([0, 5, 1 << 20]))
    for path in sorted(EXAMPLE.rglob("*.md")):
        _same_terms_line_by_line(path.read_text(encoding="utf-8"), 1 << 20)


@pytest.mark.slow  # seconds of waiting or a whole corpus: `.ci/run` runs it after the README command
@pytest.mark.skipif(not CORPUS.is_dir(), reason="evaluation corpus (../shared/corpus) not present")
def test_every_corpus_note_taken_line_by_line_has_the_terms_of_a_whole_text_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from server.search import analyzer

    monkeypatch.setattr(analyzer, "LINE_CACHE_FROM", 0)
    for path in sorted(CORPUS.rglob("*.md")):
        _same_terms_line_by_line(path.read_text(encoding="utf-8", errors="replace"), 0)


def _letter_terms(text: str) -> set[str]:
    from server.search.analyzer import has_han, index_terms

    return {term for term, _ in index_terms(text) if not has_han(term)}


def test_word_terms_are_the_letter_and_digit_terms_of_the_index() -> None:
    import random

    from server.search.analyzer import word_terms

    rng = random.Random(336)
    texts = ["FlashAttention-2 的 pin_memory 和 torch.compile", "raft in a draft; the's don't", "GPT-4o vs 7B fp16",
             "CUDA C++ 和 c++x, a++",
             *("\n".join(rng.choice(MIXED_LINES) for _ in range(rng.randint(1, 30))) for _ in range(100)),
             *(path.read_text(encoding="utf-8") for path in sorted(EXAMPLE.rglob("*.md")))]
    for text in texts:
        assert word_terms(text) == _letter_terms(text), text[:80]


@pytest.mark.slow  # a whole corpus: `.ci/run` runs it after the README command
@pytest.mark.skipif(not CORPUS.is_dir(), reason="evaluation corpus (../shared/corpus) not present")
def test_word_terms_of_every_corpus_note_are_the_letter_and_digit_terms_of_the_index() -> None:
    from server.search.analyzer import word_terms

    for path in sorted(CORPUS.rglob("*.md")):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert word_terms(text) == _letter_terms(text), path


@pytest.mark.parametrize(("question", "subject"), [
    ("孪生网络是怎么判断两段文本是否相似的？", "孪生网络"),
    ("tree of thoughts 提示法是如何工作的", "tree of thoughts 提示法"),
    ("为什么 gelu 比 relu 慢", None),  # opens with its question word
    ("我发现矩阵大了一点，吞吐为什么下降", None),  # another clause first: the asker's story
    ("残差连接和层归一化跟dropout有什么关系", None),  # several things: either may be the one the notes hold
    ("adam and sgd 有什么区别", None),
    ("kv缓存", None),  # no question word
])
def test_a_question_opening_with_the_one_thing_it_asks_about_has_a_subject(question: str, subject: str | None) -> None:
    from server.search.questions import subject_end

    end = subject_end(question)
    assert (question[:end].strip() if end is not None else None) == subject


@pytest.mark.parametrize(("question", "opening"), [
    ("what does the operating system save during a context switch", "operating system"),
    ("How do sparse autoencoders extract features?", "sparse autoencoders"),
    ("Does curriculum learning help LLM pretraining?", "curriculum learning"),
    ("why is a hand-written GELU slow", "hand-written GELU"),
    ("why do slightly oversized matrix shapes run slower", "oversized matrix"),  # an adverb names nothing
    ("why is it misleading to compare perplexities", None),  # a pronoun: what it asks about comes later
    ("how do I fix a deadlock", None),
    ("why doesn't the operating system save it", "operating system"),
    ("how does early stopping work", "early stopping"),
    ("how to implement top-p", None),  # no auxiliary: "how to" asks for a way, not of a subject
    ("explain attention", None),
])
def test_an_english_question_names_the_words_its_subject_opens_with(question: str, opening: str | None) -> None:
    from server.search.questions import subject_opening

    span = subject_opening(question)
    assert (question[span[0]:span[1]] if span is not None else None) == opening


def test_a_snippet_does_not_depend_on_the_order_its_terms_come_in() -> None:
    # Past the span cap, terms looked for later were dropped: the order of a set (which differs between
    # processes) chose the snippet.
    text = "路由器挑选专家。" + "专家负载。" * 500
    first, second = make_snippet(text, ["专家", "路由器"]), make_snippet(text, ["路由器", "专家"])
    assert first == second and "**路由器**" in first


def test_an_english_questions_prepositions_and_light_verbs_frame_it_and_per_does_not() -> None:
    plan = plan_query("roughly how many bytes does each parameter take during training, and where do they go "
                      "after the model is made wider, keeping only the almost finished ones")
    framing = {unit.text for unit in plan.units if unit.framing}
    assert {"roughly", "take", "during", "go", "after", "made", "only", "almost"} <= framing
    assert {"bytes", "parameter", "training", "model", "wider"}.isdisjoint(framing)
    tokens = plan_query("how many training tokens per parameter is compute optimal")
    assert "per" in {unit.text for unit in tokens.units if not unit.framing}  # tokens per parameter: a ratio


def test_an_acronyms_plural_holds_its_singular_not_two_halves() -> None:
    from server.search.analyzer import word_parts

    assert [term for term, _ in index_terms("LLMs")] == ["llms", "llm"]  # not ll and ms
    assert [term for term, _ in index_terms("IDs")] == ["ids", "id"]
    assert word_parts("multi-GPUs") == ["multi", "gpu"] and word_parts("MoEs") == word_parts("MoE") == ["mo", "e"]
    assert index_terms("Transformers") == [("transformers", 0)] and index_terms("H100s") == [("h100s", 0)]
    assert plan_query("GPUs").units[0].options == (("gpu",),)  # which the notes' GPU and GPUs both hold


def test_a_name_whose_capitals_spell_a_function_word_has_no_parts() -> None:
    from server.search.analyzer import word_parts

    # Re-Do-S without do would be re and s, found in ResNet; Do-RA without do, ra.
    assert word_parts("ReDoS") == word_parts("DoRA") == word_parts("NoPE") == word_parts("ToT") == []
    assert [term for term, _ in index_terms("ReDoS")] == ["redos"]
    assert word_parts("FlashAttention") == ["flash", "attention"] and word_parts("state-of-the-art") == ["state", "art"]
    assert word_parts("do-calculus") == word_parts("in-context") == []  # one word left is no part of a name


def test_a_word_ending_in_style_like_or_wise_is_also_its_head_alone() -> None:
    assert ("elo",) in plan_query("Elo-style leaderboard").units[0].options  # the notes write Elo rating
    assert ("bert",) in plan_query("BERT-like encoder").units[0].options
    assert ("row",) in plan_query("row-wise split").units[0].options  # the notes write row parallel, 按行
    assert ("multi",) not in plan_query("multi-head attention").units[0].options  # a head is no modifier


def test_up_and_down_after_a_noun_stay_function_characters() -> None:
    # 上采样 keeps its 上 (nothing before it); in GPU上运行 and 显存上分配 上 follows a noun and begins nothing.
    assert {"上采", "下采"} <= term_set("上采样和下采样")
    assert not {"上运", "上分"} & term_set("模型在GPU上运行，激活放在显存上分配。")
    assert [unit.text for unit in plan_query("在GPU上运行").units] == ["gpu", "运行"]


def test_cpp_is_a_name_not_the_letter_c() -> None:
    # Without its symbols C++ was the letter c, which every note holds (f-strings, (c), variables).
    assert "cpp" in term_set("CUDA kernels are written in C++.") and "c" not in term_set("written in C++.")
    assert [unit.text for unit in plan_query("C++ 模板").units] == ["cpp", "模板"]
    assert "cpp" not in term_set("a++ and c++x")
    assert "**C++**" in make_snippet("Kernels are written in C++ and launched from Python.", ["cpp"])


def test_a_letter_with_a_plus_is_a_name_not_the_letter() -> None:
    # B+ tree is no b: the letter alone is in every note (b'a' byte strings, A and B, jaccard(a, b)).
    assert "b+" in term_set("B+ 树索引把键放在叶子节点") and "b" not in term_set("a B+ tree")
    assert [unit.text for unit in plan_query("B+ tree").units] == ["b+", "tree"]
    assert "s+" not in term_set(r"the regex \s+ matches spaces") and "b+" not in term_set("ab+c, x+y, C++")
    assert "**B+**" in make_snippet("The B+ tree keeps keys in its leaves.", ["b+"])


def test_a_name_with_a_plus_the_notes_lack_is_refused(tmp_path: Path) -> None:
    from memory_schema.layout import PRESETS
    from server.search.filters import Filters
    from server.search.scan import Scanner
    from server.store import NoteStore

    (tmp_path / "学习笔记").mkdir()
    (tmp_path / "学习笔记" / "bytes.md").write_text("# Bytes\n\nThe vocabulary maps b'a' to 0 and a tree of merges.\n")
    (tmp_path / "学习笔记" / "db.md").write_text("# 数据库\n\nB+ 树索引把键放在叶子节点，范围查询顺着叶子走。\n")
    scan = Scanner(NoteStore(tmp_path))
    for query, found in [("B+ tree", []), ("what is a B+ tree", []), ("B+ 树索引", ["学习笔记/db.md"])]:
        hits = scan.search(plan_query(query), Filters(), PRESETS["cs336-zh"], limit=10, per_file=True)
        assert [hit.path for hit in hits] == found, query


def test_the_scan_finds_cpp_as_the_index_does(tmp_path: Path) -> None:
    from memory_schema.layout import PRESETS
    from server.search.filters import Filters
    from server.search.scan import Scanner
    from server.store import NoteStore

    (tmp_path / "学习笔记").mkdir()
    (tmp_path / "学习笔记" / "cuda.md").write_text("# CUDA\n\nKernels are written in C++ and launched from Python.\n")
    found = Scanner(NoteStore(tmp_path)).search(plan_query("C++ Python kernels"), Filters(), PRESETS["cs336-zh"],
                                                limit=10, per_file=True)
    assert [hit.path for hit in found] == ["学习笔记/cuda.md"]


def test_a_cased_glossary_term_is_found_only_as_written() -> None:
    # ZeRO the optimizer is no zero of zero-shot or zero initialization.
    glossary = Glossary.builtin()
    assert [e.matched for e in glossary.expand("ZeRO stage 3")] == ["ZeRO"]
    assert not any("零冗余优化器" in e.aliases for e in glossary.expand("zero initialization and zero-shot"))
    assert [e.matched for e in glossary.extended([["显存", "VRAM"]]).expand("ZeRO zero")] == ["ZeRO"]


def test_an_adjective_after_a_word_of_degree_ends_no_name_but_a_name_beginning_so_stays() -> None:
    # 太慢 is said of 分词器训练; 最优化 (optimization), like 更新 and 超参数, begins with a character of degree
    # and is a name.
    from server.search.absence import _before_predicate

    for question, kept in [("分词器训练太慢怎么办", ["分词器", "训练"]), ("模型最优化是什么", ["模型", "最优化"])]:
        plan = plan_query(question)
        span = plan.units[0].compound
        members = [i for i, unit in enumerate(plan.units) if unit.compound == span and span is not None]
        assert [plan.units[i].text for i in _before_predicate(plan, members)] == kept, question


def test_a_questions_words_of_time_frame_it() -> None:
    # 现在 (now) is when the asker asks, not what: a section holding it is no closer to the answer.
    units = {unit.text: unit for unit in plan_query("为什么现在的大模型预训练基本不用丢弃法").units}
    assert units["现在"].framing and not units["丢弃"].framing
    assert {unit.text for unit in plan_query("目前 GPU 显存 已经 够用 了 吗").units if unit.framing} >= {"目前", "已经"}


def test_which_asks_a_question_and_plus_joins_two_things() -> None:
    # 哪 (which) asks, wherever it stands: the words after it are searched apart, not as one keyword compound.
    plan = plan_query("sequence parallelism 切的是哪部分激活")
    assert plan.question and not any(unit.joined for unit in plan.units)
    # 加 (plus) between two things is a function word, not a character of a name (调度加 warmup).
    assert {unit.text for unit in plan_query("cosine 学习率调度加 warmup 怎么写").units}.isdisjoint({"加", "度加"})


def test_what_a_name_corresponds_to_asks_what_it_means() -> None:
    units = {unit.text: unit for unit in plan_query("what does a Triton program_id correspond to").units}
    assert units["correspond"].framing and not units["program_id"].framing


def test_a_word_jieba_cuts_across_a_glossary_terms_edge_is_cut_at_the_edge() -> None:
    query = "为什么更推荐用脑浮点数"
    start = query.index("脑浮点数")
    assert "用脑" in [unit.text for unit in plan_query(query).units]  # jieba's own cut
    units = [unit.text for unit in plan_query(query, terms=[(start, start + 4)]).units]
    assert "用脑" not in units and "浮点数" in units
