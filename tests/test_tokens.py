"""The token estimate: Chinese, English and Markdown each counted at their own rate, never below the real
count on the texts a briefing is made of."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.tokens import estimate_tokens

CHINESE = "注意力机制的计算复杂度随序列长度平方增长所以长上下文推理的瓶颈往往在显存而不是算力"
ENGLISH = "The tokenizer splits rare words into several pieces while common words stay whole"
MIXED = "BPE 算法从字节开始反复合并出现次数最多的相邻 token 对直到词表达到 vocab size"

# Real counts from Claude's tokenizer: the tokenizer.json bundled in the `anthropic` Python SDK 0.38.0 (the
# last release that ships it), loaded with `tokenizers` 0.23.3; `@anthropic-ai/tokenizer` 0.0.4 on npm gives
# the same counts. bench/token_estimator.py makes the same comparison over the whole corpus.
CLAUDE_COUNTS = [
    ("注意力机制的计算复杂度随序列长度平方增长，所以长上下文推理的瓶颈往往在显存而不是算力。", 42),
    ("The tokenizer splits rare words into several pieces, while common words stay whole.", 15),
    ("BPE 算法从字节开始，反复合并出现次数最多的相邻 token 对，直到词表达到 vocab_size。", 33),
    ("## 🎯 学习目标", 7),
    ("- **已完成讲座**: 2/17 (11.8%)", 17),
    ("| Lecture 02 | PyTorch & Resource Accounting | 第1阶段 | ✅ 已完成 | 2025-11-07 |", 32),
    ("    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)", 29),
    (
        "7B 模型用混合精度 AdamW 训练：参数 2 字节 + 梯度 2 字节 + 优化器状态 12 字节，"
        "每个参数共 16 字节，约 112 GB。",
        52,
    ),
    ("详见 [KV缓存内存计算精确分析](深度讨论/KV缓存内存计算精确分析.md)。", 36),
    ("> 💡 FlashAttention 的核心是分块计算 softmax，把 HBM 读写从 O(N²) 降到 O(N)。", 36),
    ("│   ├── 01-理论概念.md", 15),
]
AUTHOR_LIST = ("Kimi Team, Angang Du, Bofei Gao, Bowei Xing, Changjiu Jiang", 24)


def test_empty_text_costs_nothing() -> None:
    assert estimate_tokens("") == 0


def test_chinese_costs_about_one_token_per_character_not_a_quarter() -> None:
    assert len(CHINESE) <= estimate_tokens(CHINESE) <= 1.3 * len(CHINESE)


def test_english_costs_about_one_token_per_word() -> None:
    words = len(ENGLISH.split())
    assert words <= estimate_tokens(ENGLISH) <= 1.4 * words


def test_mixed_text_costs_between_english_and_chinese_per_character() -> None:
    def per_character(text: str) -> float:
        return estimate_tokens(text) / len(text)

    assert per_character(ENGLISH) < per_character(MIXED) < per_character(CHINESE)


def test_emoji_cost_more_than_one_token_each() -> None:
    assert estimate_tokens("✅") >= 2
    assert estimate_tokens("已完成 ✅🎯") >= estimate_tokens("已完成") + 4


@pytest.mark.parametrize(
    ("marked_up", "plain"),
    [
        ("**重点**", "重点"),
        ("## 学习目标", "学习目标"),
        ("[链接](docs/notes.md)", "链接"),
        ("| 讲座 | 状态 |", "讲座 状态"),
        ("`vocab_size`", "vocab_size"),
    ],
)
def test_markdown_markup_is_counted(marked_up: str, plain: str) -> None:
    assert estimate_tokens(marked_up) > estimate_tokens(plain)


def test_indentation_and_line_breaks_are_counted() -> None:
    indented = "def step(self):\n    for group in self.groups:\n        for p in group:\n            p.step()"
    flat = "def step(self): for group in self.groups: for p in group: p.step()"
    assert estimate_tokens(indented) > estimate_tokens(flat)
    assert estimate_tokens("第一行\n第二行\n第三行") > estimate_tokens("第一行第二行第三行")


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.one_of(st.text(alphabet="aZ09 \t\n.*|#-_中文，。✅🎯│─é"), st.text()),
    st.one_of(st.text(alphabet="aZ09 \t\n.*|#-_中文，。✅🎯│─é"), st.text()),
)
def test_appending_text_never_lowers_the_estimate(text: str, more: str) -> None:
    assert estimate_tokens(text + more) >= estimate_tokens(text)


@pytest.mark.parametrize(("text", "real"), CLAUDE_COUNTS)
def test_estimate_is_at_least_the_real_count_and_at_most_half_again(text: str, real: int) -> None:
    assert real <= estimate_tokens(text) <= 1.5 * real


def test_author_lists_of_pinyin_names_stay_within_five_percent_of_the_real_count() -> None:
    # Rare names split into many pieces, more than the per-letter charge for capitals covers here.
    text, real = AUTHOR_LIST
    assert estimate_tokens(text) >= 0.95 * real
