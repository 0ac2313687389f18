"""Text analysis for search: mixed Chinese/English text -> index terms, and a query -> a query plan.

This module owns what a "term" is, identically at index and query time, and it is the only module that
imports rjieba (lazily: importing it loads the dictionary, ~150 ms, which must not slow a cold start).
It knows nothing of Whoosh; `server.index` wraps `index_terms` in a Whoosh analyzer.

Index terms for a text, after NFKC folding (full-width -> half-width) and lower-casing:
- a run of Han characters is cut by jieba; function words (的, 是, 什么, ...) are dropped and split the run
  into segments; each segment gives its overlapping character bigrams (a one-character segment gives
  itself), plus the jieba words of three or more characters (two-character words are bigrams already).
  Bigrams make a query that jieba segments differently still match: 注意力 inside 多头注意力机制.
- a run of letters/digits is kept whole (`pin_memory`, `fp16`, `7b`) and, when it has parts, also split on
  `_`, `-`, `.` and camelCase (`pin`, `memory`; `flash`, `attention`). No stemming.
Positions: a Han character takes one position (a bigram or word sits at its first character), a word takes
one position per part; so phrase and proximity queries work across both scripts. A sentence's end (。！？；!?;
a full stop before whitespace, so also e.g. and et al.; a line before a blank line, a list item, a table row or
a heading) puts SENTENCE_GAP positions before the next word: words of two sentences are never near,
however short the sentences (向量相加。更重要的是，它天然支持 holds no 支持向量), while a line that wraps prose
goes on (a line break inside "graph attention networks"), and a phrase query keeps the gaps it holds itself
("et al. 2017").

A query plan is a list of units, one per query word. A unit is matched by any of its options, an option
being a set of terms that must all be present: `注意力` is matched by the word term or by both of its
bigrams, `pin_memory` by the whole term or by `pin` and `memory`.
"""

from __future__ import annotations

import functools
import hashlib
import re
import threading
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from itertools import accumulate, pairwise, product
from typing import Any, NamedTuple

from server.search.chinese_script import to_simplified
from server.search.questions import A_NOT_A, QUESTION_WORDS_EN, QUESTION_WORDS_ZH, english_variants, is_question

_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef\U00030000-\U0003134f"
# A letter with a plus (B+ of B+ tree) is a name of its own, not the letter: a word, in the notes and in queries. Not
# after a backslash (the \s+ of a regular expression) or inside a word, and not C++ (`fold` spells it Cpp).
_LETTER_PLUS = r"(?<![A-Za-z0-9_\\+])[A-Za-z]\+(?![A-Za-z0-9_+])"
_RUNS = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<word>{_LETTER_PLUS}|[^\W_{_HAN}]+(?:[_.\-][^\W_{_HAN}]+)*)")
_SEPARATORS = re.compile(r"[_.\-]+")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_QUOTED = re.compile(r'"([^"]+)"|“([^”]+)”|「([^」]+)」')


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Pure noise only: a word here can never be found, so anything with topical meaning stays out.
STOP_WORDS_EN = _words(
    """a an the of to in on at by for from with into as and or nor but if so than then that this these those
    is are was were be been being am it its it's there here which what whats how why when where who whom
    do does did done can could would should shall will may might must i you he she we they me my our your
    their his her them us vs via about also just very too more most such any some all each both etc eg ie
    not no"""
)
STOP_WORDS_ZH = _words(
    """的 地 得 了 着 过 是 在 和 与 及 或 也 都 就 而 之 其 这 那 吗 呢 吧 啊 呀 嘛 呗 把 被 对 于 从 以 为 等 个
    我 你 他 她 它 们 有 又 还 并 则 即 但 让 给 向 很 更 最 要 会 能 该 所 某 各 每 此 些
    什么 为什么 怎么 怎样 怎么样 如何 哪些 哪个 哪里 是否 是不是 有没有 可以 能够
    我们 你们 他们 它们 这个 那个 这些 那些 这里 那里 一个 一些
    时 上 下 中 里 张 种 次 位 受 将 做 用 使 当 跟 同 比 到 加
    因为 所以 但是 如果 就是 还是 以及 或者 而且 并且 然后 其中 的话 之间 一下 起来"""
)
# Words that say what a person wants to know about a topic (its principle, the difference, an example)
# rather than name the topic. They are searched, but a section need not contain them to match: notes
# explaining FlashAttention seldom use the word 原理.
# Words of degree (too, very, quite): an adjective after one is said of the words before it, never part of their
# name. Not 更, 最 or 超, which begin names (更新, 最优化, 超参数).
DEGREE = "太很挺蛮"
FRAMING_WORDS = _words(
    """原理 区别 差异 作用 介绍 详解 解释 讲解 是什么 方法 理解 概念 步骤 实现 优缺点 优点 缺点 优势 问题 总结 对比 比较
    例子 示例 举例 用法 含义 意义 定义 流程 过程 关系 联系 影响 特点 应用 笔记 分析 思路 技巧 细节 要点 入门 基础
    explain explained explaining explanation overview introduction intro difference differences compare comparison
    example examples definition tutorial guide principle principles note notes work works working meaning purpose
    summary basics understanding usage details need needs needed use uses used using get gets make makes way
    motivation motivations idea ideas insight insights takeaway takeaways tip tips recap paper papers result results
    finding findings experiment experiments derivation
    ways much many want know like best good better out up down off over 需要 使用 用法 用途 有用
    越来越 逐渐 不断 一直 总是 经常 常常 往往 通常 非常 特别 十分 相当 已经 仍然 依然 明显 突然
    梳理 科普 来龙去脉 展开 做到 说明 出来 出去 进来 进去 下来 下去 上来 上去 回来 回去 过来 过去 开来
    搞不懂 不懂 没懂 看不懂 弄不懂 不明白 搞不明白 搞混 分不清 老是 知道 判断出
    放不下 装不下 存不下 塞不下 跑不动 训不动 跑不起来 训不起来 放得下 装得下 跑得动
    两个 三个 四个 几个 两种 三种 四种 几种 两类 三类 两步 三步 两次 两层 两者 三者
    suddenly sharply quickly slowly rapidly gradually significantly dramatically roughly nearly almost exactly
    simply directly automatically usually typically generally basically actually really slightly mostly largely"""
) | frozenset(degree + quality for degree in DEGREE for quality in "慢快大小多少长短高低难贵重轻深浅宽窄")
# 太慢, 很大: what the asker says of the topic (分词器训练太慢怎么办), never part of its name

# Framing words that as often are part of a name, written onto a word of it: a head after it (高斯过程, 对偶问题,
# 生存分析) or a first word before it (概念漂移, 对比解码, 关系抽取). Such a pair is still framed, but it names one
# thing where the notes write its words within one clause, and nothing where they never do (see
# `absence.written_together`).
NAME_HEADS = _words("过程 问题 分析")
NAME_LEADS = _words("对比 概念 影响 关系")

# (text, position). A plain tuple: a named one costs a third of the analyzer's time.
Term = tuple[str, int]


# A request around the topic (讲一讲张量并行, 介绍一下层归一化, walk me through ZeRO): blanked out before the query
# is cut into words, as jieba cuts some of them into the topic's characters (讲/一/讲, 一/下层).
_REQUESTS = re.compile(
    r"(?:请|帮我|给我)?(?:简单|详细)?(?:讲一讲|讲讲|讲一下|讲下|说一说|说说|说一下|聊一聊|聊聊|谈一谈|谈谈|介绍一下|介绍下"
    r"|解释一下|解释下|总结一下|分析一下|梳理一下|说明一下|科普一下|展开讲讲|展开说说)"
    r"|\b(?:please\s+)?(?:walk\s+me\s+through|walk\s+through|teach\s+me|tell\s+me\s+about|explain\s+like\s+i'?m\s+"
    r"(?:five|5)|in\s+a\s+nutshell)\b"
    # A question asked of the topic in one character and a question word (FlashAttention快在哪, FSDP难不难,
    # scaling law靠不靠谱): jieba glues that character onto the topic, or takes the question for a word.
    rf"|[快慢好差强弱省贵难卡优]在哪(?:里|儿)?|{A_NOT_A}",
    re.IGNORECASE,
)


def without_requests(text: str) -> str:
    """`text` with the requests around its topic blanked out, each character by a space (offsets stay)."""
    return _REQUESTS.sub(lambda match: " " * len(match.group()), text)


# C++ is a name whose symbols are all of it: without them it is the letter c, in every note. Folded to Cpp (as
# long, so offsets stay), in the notes, in queries, in the scan and in snippets alike.
_CPP = re.compile(r"(?<![\w+])([Cc])\+\+(?![\w+])")


def fold(text: str) -> str:
    """NFKC: full-width letters, digits and punctuation become their ASCII forms; case is kept; C++ is Cpp;
    a traditional Chinese character is its simplified form (`chinese_script`), one character for one.

    Line by line: CPython normalizes a whole string slowly once any character of it needs it (one `…`
    in a long note), and a newline never composes or reorders with its neighbours, so the lines fold
    apart to the same text.
    """
    if not unicodedata.is_normalized("NFKC", text):
        text = "\n".join(
            line if unicodedata.is_normalized("NFKC", line) else unicodedata.normalize("NFKC", line)
            for line in text.split("\n")
        )
    text = to_simplified(text)
    return _CPP.sub(r"\1pp", text) if "++" in text else text


# Words jieba's dictionary lacks that hold a character the analyzer drops as a function word (会 of 会话, 到 of
# 端到端, 过 of 跳过, 时 of 时长): cut as lone characters, they lost it, and 会话 was searched as 话 alone. General
# vocabulary of technical writing, each with its part of speech for `word_class` (n noun, b attributive, v verb).
SEGMENTER_WORDS = {
    "会话": "n", "端到端": "b", "跳过": "v", "单次": "b", "片上": "b", "乘加": "vn", "幂次": "n", "用例": "n",
    "加性": "b", "亲和度": "n", "最坏": "b", "弃用": "v", "用时": "n", "时长": "n", "加和": "vn", "位宽": "n",
    "比对": "v", "加速比": "n", "做题": "v",
}


def segmenter_digest() -> str:
    """A digest of the words added to the segmenter: an index cut with other words is rebuilt."""
    words = "\n".join(f"{word} {tag}" for word, tag in sorted(SEGMENTER_WORDS.items()))
    return hashlib.sha256(words.encode("utf-8")).hexdigest()[:12]


class _Jieba:
    """The segmenter, loaded on first use (or explicitly by `load`), never at import."""

    def __init__(self) -> None:
        self._cut: Any = None
        self._has_word: Any = None
        self._tag: Any = None
        # Adding words changes the dictionary, which must not happen while another thread cuts ("Already borrowed"
        # from rjieba): one thread loads, and the functions are published only once the words are in.
        self._loading = threading.Lock()

    def load(self) -> None:
        if self._cut is not None:
            return
        with self._loading:
            if self._cut is not None:
                return
            import rjieba

            for word, tag in SEGMENTER_WORDS.items():
                rjieba.add_word(word, None, tag)
            rjieba.cut("预热")
            rjieba.tag("变分", True)  # the tagger of guessed words loads on the first one (20-30 ms): not in a search
            self._has_word = rjieba.has_word
            self._tag = rjieba.tag
            self._cut = rjieba.cut  # last: `cut` loads nothing once it is set

    def cut(self, run: str) -> list[str]:
        if self._cut is None:
            self.load()
        # No HMM: new-word guessing depends on context, and the same words must come out of a note and a query.
        words: list[str] = self._cut(run, False)
        return words

    def has_word(self, word: str) -> bool:
        if self._has_word is None:
            self.load()
        return bool(self._has_word(word))

    def word_class(self, word: str) -> WordClass:
        """What the dictionary takes the word alone for: THING (a noun, or a word it does not know: a new word
        is most often a name), ACT (a verb or adjective, which may be part of a name: 垃圾回收) or OTHER (an
        adverb, numeral, idiom, pronoun ...: never part of one). The tags are jieba's; a word the dictionary
        cuts in pieces takes the most name-like class among them."""
        if self._tag is None:
            self.load()
        tags = [tag for _, tag in self._tag(word, False)]
        if any(tag.startswith(NOUN_TAGS) for tag in tags):
            return WordClass.THING
        return WordClass.ACT if any(tag.startswith(("v", "a")) for tag in tags) else WordClass.OTHER

    def guessed_nouns(self, text: str) -> list[tuple[int, int]]:
        """(offset, length) of the words of two or more characters that jieba's new-word guesser (its HMM)
        finds in `text` and tags as nouns."""
        if self._tag is None:
            self.load()
        found, offset = [], 0
        for word, tag in self._tag(text, True):
            if len(word) > 1 and tag.startswith(NOUN_TAGS):
                found.append((offset, len(word)))
            offset += len(word)
        return found


class WordClass(StrEnum):
    """What a question's Chinese word is, as far as naming its topic goes (see `_Jieba.word_class`)."""

    THING = "thing"  # a noun, or a word the dictionary does not know
    ACT = "act"  # a verb or adjective: part of a name where the notes hold it (回收 in 垃圾回收)
    NEW = "new"  # lone characters jieba's new-word guesser joins into a noun (变分; see `_classified`)
    OTHER = "other"  # an adverb, numeral, idiom, pronoun ...: never part of a name
NOUN_TAGS = ("n", "vn", "an", "b", "j", "x", "eng")  # nouns, verbal and adjectival nouns, attributives, short forms


JIEBA = _Jieba()


def load_segmenter() -> None:
    """Load the jieba dictionary now (the first search would otherwise pay for it)."""
    JIEBA.load()


MODIFIER_SUFFIXES = frozenset({"style", "like", "based", "esque", "wise"})  # Elo-style, BERT-like, row-wise


def word_parts(word: str) -> list[str]:
    """`pin_memory` -> [pin, memory]; `FlashAttention` -> [flash, attention]; `fp16` -> [] (no parts). An
    acronym's plural has its singular's parts: `multi-GPUs` -> [multi, gpu] (not gp and us), `MoEs` -> [mo, e]."""
    pieces = _SEPARATORS.split(word) if ("_" in word or "-" in word or "." in word) else [word]
    parts: list[str] = []
    for piece in pieces:
        if (singular := _ACRONYM_PLURAL.fullmatch(piece)) is not None:
            piece = singular.group(1)
        if _CAMEL.search(piece):
            camel = [part.lower() for part in _CAMEL.split(piece)]
            if any(part in STOP_WORDS_EN for part in camel):
                return []  # ReDoS, DoRA, NoPE: letters of a name, not words; re and s alone would find ResNet
            parts.extend(camel)
        elif piece:
            parts.append(piece)
    words = [p for p in (part.lower() for part in parts) if p not in STOP_WORDS_EN]
    return words if len(words) >= 2 else []  # do-calculus is no calculus


_ACRONYM_PLURAL = re.compile(r"([A-Za-z0-9]*[A-Z][A-Za-z0-9]*[A-Z])s")  # two capitals or more, the last before s


_HAS_HAN = re.compile(f"[{_HAN}]")
_WORD = re.compile(rf"{_LETTER_PLUS}|[^\W_{_HAN}]+(?:[_.\-][^\W_{_HAN}]+)*")
_QUOTE_MARKERS = r"(?:[^\S\n]*>)*"  # a quote's markers: what follows them is read as a line of its own
_BLOCK_START = rf"{_QUOTE_MARKERS}[^\S\n]*(?:[-*+#]+[^\S\n]|\d+[.)](?!\d)|\|)"  # a list item, table row or heading
# begins the line, in a quote or not (a quote's lines all begin with >, so a wrapped quote goes on; *em*, -inf, 3.5
# begin no block)
_BLANK_LINE = rf"{_QUOTE_MARKERS}[^\S\n]*\n"  # a blank line, or a quote's (">" alone: it parts the quote's paragraphs)
# A word, or a sentence's end: 。！？；!?; a full stop before a space, a line before a blank line or a block start
# (a line that wraps prose goes on: "graph\nattention" is one sentence).
_WORD_OR_END = re.compile(rf"({_WORD.pattern})|[。！？；!?;]|\.(?=\s)|\n(?={_BLANK_LINE}|{_BLOCK_START})")
_IS_BLANK = re.compile(rf"{_QUOTE_MARKERS}[^\S\n]*")  # the same, for one line without its newline (fullmatch)
_STARTS_BLOCK = re.compile(_BLOCK_START)
SENTENCE_GAP = 64  # positions between two sentences: more than any nearness the ranking reads
_SCRIPTS = re.compile(f"[{_HAN}]+|[^{_HAN}]+")


def _segment_terms(out: list[Term], words: list[str], pos: int) -> None:
    """The terms of one segment (a Han run between function words), its first character at `pos`."""
    text = "".join(words)
    if len(text) == 1:
        out.append((text, pos))
        return
    out.extend([(text[i : i + 2], pos + i) for i in range(len(text) - 1)])
    offset = pos
    for word in words:
        n = len(word)
        if n >= 3:
            out.append((word, offset))
            # jieba's search mode adds the dictionary trigrams inside a longer word (语言模型 in 大语言模型).
            for j in range(1, n - 2):
                if JIEBA.has_word(word[j : j + 3]):
                    out.append((word[j : j + 3], offset + j))
        offset += n


class _Cursor:
    """Where a text's analysis stands: the next position, whether a sentence ended since the last word (its gap
    is added before the next word, never before the first), and, for a text taken line by line, whether one
    ended before the first word (`leading`)."""

    __slots__ = ("ended", "leading", "moved", "pos", "start")

    def __init__(self, start: int) -> None:
        self.pos = self.start = start
        self.ended = self.leading = self.moved = False

    def next_word(self) -> int:
        """The position of a word about to be taken, past a sentence gap when one is due."""
        if self.ended:
            self.ended = False
            if self.moved:
                self.pos += SENTENCE_GAP
            else:
                self.leading = True
        self.moved = True
        return self.pos


def _word_terms(out: list[Term], stretch: str, at: _Cursor) -> None:
    """The terms of the letter/digit words in a stretch of non-Han text, from `at` (advanced past them)."""
    for match in _WORD_OR_END.finditer(stretch):
        word = match.group(1)
        if word is None:
            at.ended = True
            continue
        whole, parts = _word_and_parts(word)
        if (not parts and whole in STOP_WORDS_EN) or _url_scheme(whole, stretch, match.end()):
            continue  # takes no position
        pos = at.next_word()
        if not parts:
            out.append((whole, pos))
            at.pos = pos + 1
            continue
        out.append((whole, pos))
        out.extend([(part, pos + i) for i, part in enumerate(parts)])
        at.pos = pos + len(parts)


def _word_and_parts(word: str) -> tuple[str, list[str]]:
    """A letter/digit word's own term and the terms of its parts (none for a plain lowercase word); an acronym's
    plural also holds its singular (GPUs: gpus and gpu), so a search for GPU finds it, and a query's GPUs is
    searched as gpu alone (`plan_query`): both would score every note writing GPUs twice."""
    if word.isalnum() and word.islower():
        return word, []
    parts = word_parts(word)
    if not parts and (singular := _ACRONYM_PLURAL.fullmatch(word)) is not None:
        parts = [singular.group(1).lower()]
    return word.lower(), parts


def has_han(text: str) -> bool:
    """Whether `text` holds a Han character (a Chinese term), not only letters and digits."""
    return _HAS_HAN.search(text) is not None


def word_terms(text: str) -> frozenset[str]:
    """The letter and digit terms `index_terms` gives `text` (its words, lowercased, and their parts), without
    segmenting its Chinese: a cheap exact test of whether a note holds an English word (raft is not in draft)."""
    found: set[str] = set()
    folded = fold(text)
    for match in _WORD.finditer(folded):
        whole, parts = _word_and_parts(match.group())
        if (parts or whole not in STOP_WORDS_EN) and not _url_scheme(whole, folded, match.end()):
            found.add(whole)
            found.update(parts)
    return frozenset(found)


_URL_SCHEMES = frozenset({"http", "https", "ftp"})


def _url_scheme(word: str, text: str, end: int) -> bool:
    """Whether `word`, ending at `end` of `text`, is a link's scheme (the http of http://…): every reference list
    writes it, and a search for HTTP means the protocol a note discusses, not the notes that link somewhere."""
    return word in _URL_SCHEMES and text.startswith("://", end)


def is_han(char: str) -> bool:
    if char < "\u3007":
        return False
    return "\u4e00" <= char <= "\u9fff" or _HAS_HAN.match(char) is not None


def index_terms(text: str, start_pos: int = 0) -> list[Term]:
    """Every index term of `text` with its position.

    A long text is taken line by line, each line's terms kept (`_line_terms`): a newline ends every Han
    segment and letter word, so a line's terms do not depend on its neighbours, only their positions move
    with what came before, and the sentence gaps between lines are placed as a whole-text pass places them.
    An edit of a long list re-analyzes the lines it changed, not the list.
    """
    if len(text) < LINE_CACHE_FROM or "\n" not in text:
        return _terms(text, start_pos)[0]
    out: list[Term] = []
    pos = start_pos
    ended = False  # a sentence ended since the last word taken
    for number, line in enumerate(text.split("\n")):
        if number and (_IS_BLANK.fullmatch(fold(line)) or _STARTS_BLOCK.match(fold(line))):
            ended = True  # the newline before a blank line or a block start ends a sentence
        if not line:
            continue
        # Taken with its newline, so that a full stop at its end ends a sentence as it does in the whole text.
        terms, advance, leading, trailing = (_line_terms(line) if len(line) <= LINE_CACHE_UP_TO
                                             else _terms(line + "\n", 0))
        if not advance:
            ended = ended or trailing
            continue
        if (ended or leading) and pos > start_pos:
            pos += SENTENCE_GAP
        out.extend([(term, at + pos) for term, at in terms] if pos else terms)
        pos += advance
        ended = trailing
    return out


LINE_CACHE_FROM = 4096  # characters: shorter texts are analyzed whole
LINE_CACHE_UP_TO = 200  # characters: a list entry or a short line is kept, a paragraph is not


@functools.lru_cache(maxsize=4096)  # about 12 MB when full of corpus lines (tracemalloc over the 458 notes)
def _line_terms(line: str) -> tuple[tuple[Term, ...], int, bool, bool]:
    terms, end, leading, trailing = _terms(line + "\n", 0)
    return tuple(terms), end, leading, trailing


def _terms(text: str, start_pos: int) -> tuple[list[Term], int, bool, bool]:
    """The terms of `text`, the position after it, and whether a sentence ended before its first word and
    after its last (for a text taken line by line; both when it has no word).

    One pass over jieba's words for the whole text (one call: per-run calls cost 5x more): Han words
    gather into segments, everything else into stretches whose words a regex finds. Within a segment the
    longer words follow its bigrams (Whoosh only needs each term's own positions to increase).
    """
    folded = fold(text)
    out: list[Term] = []
    at = _Cursor(start_pos)
    if not _HAS_HAN.search(folded):
        _word_terms(out, folded, at)
        return out, at.pos, at.leading or (at.ended and not at.moved), at.ended
    segment: list[str] = []
    segment_pos = at.pos
    stretch: list[str] = []
    words = JIEBA.cut(folded)
    for k, word in enumerate(words):
        if word.isascii():  # most of jieba's words outside Han text are single ASCII characters
            if segment:
                _segment_terms(out, segment, segment_pos)
                segment = []
            stretch.append(word)
        elif is_han(word[0]) and is_han(word[-1]):
            if stretch:
                _word_terms(out, "".join(stretch), at)
                stretch = []
            pos = at.next_word()
            at.pos = pos + len(word)
            if word in STOP_WORDS_ZH and not _starts_word(word, words[k + 1] if k + 1 < len(words) else "",
                                                          words[k - 1] if k else ""):
                if segment:
                    _segment_terms(out, segment, segment_pos)
                    segment = []
                continue
            if not segment:
                segment_pos = pos
            segment.append(word)
        elif _HAS_HAN.search(word):  # a dictionary word mixing scripts (卡拉OK): split it
            for piece in _SCRIPTS.findall(word):
                if is_han(piece[0]):
                    if stretch:
                        _word_terms(out, "".join(stretch), at)
                        stretch = []
                    pos = at.next_word()
                    at.pos = pos + len(piece)
                    if not segment:
                        segment_pos = pos
                    segment.append(piece)
                else:
                    if segment:
                        _segment_terms(out, segment, segment_pos)
                        segment = []
                    stretch.append(piece)
        else:
            if segment:
                _segment_terms(out, segment, segment_pos)
                segment = []
            stretch.append(word)
    if segment:
        _segment_terms(out, segment, segment_pos)
    if stretch:
        _word_terms(out, "".join(stretch), at)
    return out, at.pos, at.leading or (at.ended and not at.moved), at.ended


def term_set(text: str) -> set[str]:
    return {t[0] for t in index_terms(text)}


# --- queries -------------------------------------------------------------------------------------------


class _Segment(NamedTuple):
    start: int  # offsets in the run
    end: int
    words: list[tuple[int, str]]  # (offset, word) of every kept word


class _Cuts:
    """jieba's words for a whole text, cut once (one call per run costs 5x more), handed out per Han run."""

    def __init__(self, folded: str, terms: Sequence[tuple[int, int]] = ()) -> None:
        """`terms`: spans of glossary terms in `folded`; a word jieba cuts across a Han term's edge is cut there."""
        self.text = folded
        self.words: list[str] = JIEBA.cut(folded) if _HAS_HAN.search(folded) else []
        if terms and self.words:
            self.words = _cut_at_term_edges(self.words, folded, terms)
        self.ends = list(accumulate(map(len, self.words)))

    def within(self, start: int, end: int) -> list[tuple[int, str]]:
        """The words overlapping text[start:end], clipped to it, with offsets relative to `start`."""
        words, ends = self.words, self.ends
        first = bisect_right(ends, start)
        last = min(bisect_left(ends, end), len(words) - 1)
        found: list[tuple[int, str]] = []
        for k in range(first, last + 1):
            word = words[k]
            lo = ends[k] - len(word)
            found.append((lo - start, word))
        if found:
            # jieba may join a Han run to a neighbour (T恤, A股): clip the first and last words to the run.
            off, word = found[0]
            if off < 0:
                found[0] = (0, word[-off:])
            off, word = found[-1]
            if off + len(word) > end - start:
                found[-1] = (off, word[: end - start - off])
        return found


def _cut_at_term_edges(words: list[str], text: str, terms: Sequence[tuple[int, int]]) -> list[str]:
    """`words` cut again where one crosses the edge of a glossary term written in Han characters: jieba's 用脑|浮点数
    of 推荐用脑浮点数 hides the term 脑浮点数 (bfloat16); cut as 用|脑|浮点数, the term is made of whole words."""
    edges = {edge for start, end in terms if all(is_han(char) for char in text[start:end]) for edge in (start, end)}
    if not edges:
        return words
    cut: list[str] = []
    start = 0
    for word in words:
        end = start + len(word)
        inside = sorted(edge for edge in edges if start < edge < end)
        for lo, hi in pairwise([start, *inside, end]):
            cut.append(text[lo:hi])
        start = end
    return cut


# Function characters that as often begin a word jieba does not know, cut off by it (向|量化 of 向量化, 过|拟合 of
# 过拟合): kept, as a lone character of the word after them, when one follows at once. 上 and 下 follow a noun as
# often (GPU上运行, 显存上分配), so they are kept only where none comes before them (上采样, 和下采样).
WORD_STARTS = frozenset("向过")
WORD_STARTS_AFTER_A_BREAK = frozenset("上下")


def _starts_word(word: str, following: str, previous: str) -> bool:
    """Whether a stop character `word` begins the word after it; `previous` is the word before it ("" at the
    start of a text or a Han run written after a space or punctuation)."""
    if not following or not is_han(following[0]) or following in STOP_WORDS_ZH:
        return False
    if word in WORD_STARTS:
        return True
    return word in WORD_STARTS_AFTER_A_BREAK and (not previous or previous in STOP_WORDS_ZH
                                                  or not (previous[-1].isalnum() or is_han(previous[-1])))


def _segments(words: list[tuple[int, str]], before: str) -> list[_Segment]:
    """Split a Han run at function words; keep the other words with their offsets. `before` is the character
    written just before the run ("" at the start)."""
    segments: list[_Segment] = []
    start = -1
    kept: list[tuple[int, str]] = []
    end = 0
    for k, (offset, word) in enumerate(words):
        following = words[k + 1][1] if k + 1 < len(words) else ""
        if word in STOP_WORDS_ZH and not _starts_word(word, following, words[k - 1][1] if k else before):
            if start >= 0:
                segments.append(_Segment(start, offset, kept))
                start, kept = -1, []
        else:
            if start < 0:
                start = offset
            kept.append((offset, word))
        end = offset + len(word)
    if start >= 0:
        segments.append(_Segment(start, end, kept))
    return segments


@dataclass(frozen=True)
class Unit:
    """One query word: matched when all terms of any one option are present."""

    text: str
    start: int  # offsets into the folded query
    end: int
    options: tuple[tuple[str, ...], ...]
    anchor: str  # the term standing for the word in proximity queries
    named: bool = False  # written as a name (GELU, PyTorch, d_ff, UTF-8): in a question, what it is about
    coined: bool = False  # a coined word (BPE, fastText, d_ff), not only capitalised (Graph): a name by itself
    acronym: bool = False  # written in capitals (CAP, BGP) in a query that does not shout: the notes hold it only
    # where they write it as a name, with a capital (`writes_capitals`), not where cap is \cap or half of CapEx
    joined: bool = False  # several words taken as one name (keywords' 生成对抗网络): written together in a note
    words: tuple[str, ...] = ()  # a keyword compound's words as the query is cut (对抗|样本|训练, 测试|集|污染)
    term: bool = False  # part of a glossary term the query writes (技巧 of 核技巧): a name, never framing
    compound: tuple[int, int] | None = None  # in a question, the span of the compound the word is part of
    word_class: WordClass = WordClass.THING  # in a question, a Chinese word's class; else THING

    @property
    def framing(self) -> bool:
        """A word that frames a question, or a lone Han character (有什么用 -> 用): it carries little of
        the query's meaning and is only found where the notes happen to isolate it too."""
        return not self.term and (
            self.text in FRAMING_WORDS or self.text in QUESTION_WORDS_EN or self.text in QUESTION_WORDS_ZH
            or (len(self.text) == 1 and _HAS_HAN.match(self.text) is not None))

    @property
    def phrasing(self) -> bool:
        """In a question, a Chinese word that names no thing (混进, 先猜, 没什么, 拿): the asker's wording. Lone
        characters jieba's new-word guesser joins into a noun (协程, 锚框) name one."""
        return self.word_class not in (WordClass.THING, WordClass.NEW)

    @property
    def topical(self) -> bool:
        """A word that can name what a question is about: content words, and a lone character naming a thing
        (图 in 图神经网络), but not the asker's phrasing (拿 in 拿计算换显存, 混进 in 混进训练数据)."""
        if self.phrasing:
            return False
        if len(self.text) == 1 and self.han:
            return self.text not in FRAMING_WORDS and self.text not in QUESTION_WORDS_ZH
        return not self.framing

    @property
    def han(self) -> bool:
        """Written in Han characters (a Chinese word), not letters or digits."""
        return has_han(self.text)

    def matched_by(self, present: Container[str]) -> bool:
        return any(all(term in present for term in option) for option in self.options)

    @property
    def terms(self) -> set[str]:
        return {term for option in self.options for term in option}


@dataclass(frozen=True)
class Alternative:
    """Other words for part of the query (a glossary alias): when all of its units match, the query units
    it covers count as matched."""

    text: str
    units: tuple[Unit, ...]
    covers: tuple[int, ...]  # indexes into QueryPlan.units


Phrase = tuple[tuple[str, int], ...]  # terms of a phrase with their offsets from its first


@dataclass
class QueryPlan:
    """What a query asks for: its words, their alternatives, quoted phrases and its term sequence."""

    text: str  # folded, lower-cased
    units: list[Unit] = field(default_factory=list)
    alternatives: list[Alternative] = field(default_factory=list)
    phrases: list[Phrase] = field(default_factory=list)
    phrase_texts: list[str] = field(default_factory=list)
    sequence: Phrase = ()
    question: bool = False  # asked as a question: sections holding part of it are ranked too
    described: bool = False  # a topic described in a sentence, not asked about: read as a question too

    @property
    def terms(self) -> set[str]:
        """Every term the query can match, alternatives included (what a snippet marks)."""
        found = {term for unit in self.units for term in unit.terms}
        found.update(term for alt in self.alternatives for unit in alt.units for term in unit.terms)
        return found

    @property
    def aliased(self) -> set[int]:
        """The units a glossary alias stands for."""
        return {i for alt in self.alternatives for i in alt.covers}

    def satisfied(self, present: Container[str]) -> list[bool]:
        """Which units a text holding the terms `present` matches, directly or through an alternative."""
        matched = [unit.matched_by(present) for unit in self.units]
        for alt in self.alternatives:
            if all(unit.matched_by(present) for unit in alt.units):
                for index in alt.covers:
                    matched[index] = True
        return matched

    def phrases_in(self, text: str) -> bool:
        """Whether every quoted phrase occurs in `text` (a plain substring test, for the index-less scan)."""
        folded = " ".join(fold(text).lower().split())
        return all(phrase in folded for phrase in self.phrase_texts)


def _bigrams(text: str) -> tuple[str, ...]:
    return tuple(text[i : i + 2] for i in range(len(text) - 1))


COMPOUND_PIECES = 3  # a query segment of up to this many words (and COMPOUND_CHARS characters) is one term
COMPOUND_CHARS = 8
# A question's stretch of more words than this is the asker's sentence, however short (书训练模型算合理 of
# 用受版权保护的书训练模型算合理使用吗: five words, two of them lone characters), not one name.
QUESTION_COMPOUND_WORDS = 4


def _han_units(run: str, words: list[tuple[int, str]], base: int, before: str, *, compounds: bool,
               terms: Sequence[tuple[int, int]] = ()) -> Iterator[Unit]:
    """The units of a Han run written after the character `before`. With `compounds` (keywords, not a question,
    whose segments are clauses) a short segment is one unit. A word inside a glossary term of the query (`terms`:
    spans in the query) frames nothing (技巧 of 核技巧)."""
    def in_term(off: int, word: str) -> bool:
        return any(start <= base + off and base + off + len(word) <= end for start, end in terms)

    for seg in (part for whole in _segments(words, before) for part in _apart_at_framing(whole, in_term)):
        seg_text = run[seg.start : seg.end]
        pieces = _pieces(seg.words)
        joined = len(pieces) < len(seg.words)  # a lone character was joined to its neighbour
        framed = any((word in QUESTION_WORDS_ZH or word in FRAMING_WORDS) and not in_term(off, word)
                     for off, word in [*pieces, *seg.words])
        names_one_thing = (len(pieces) > 1 or joined) and len(pieces) <= COMPOUND_PIECES \
            and len(seg_text) <= COMPOUND_CHARS and not framed \
            and (compounds or (len(seg.words) <= QUESTION_COMPOUND_WORDS
                               and not any(never_in_a_name(word) for _, word in seg.words)))
        if names_one_thing and compounds:
            # A short segment names one thing (生成对抗网络, 混合精度训练): a section holds it only if it holds
            # every word of it, so a rare word in another sense (对抗) does not stand for the whole.
            options = _compound_options(seg_text, [(off - seg.start, word) for off, word in seg.words])
            yield Unit(seg_text, base + seg.start, base + seg.end, options, options[0][0], joined=True,
                       words=tuple(word for _, word in seg.words))
            continue
        # In a question its words are ranked apart (a section may answer it holding some of them), but the
        # compound is still one thing when deciding whether the notes cover the topic at all (see `engine`). So
        # is a keyword segment too long to be one term (注意力缺陷多动障碍): its words must meet in a section.
        long_keyword = compounds and len(pieces) > 1 and not framed
        span = (base + seg.start, base + seg.end) if names_one_thing or long_keyword else None
        for unit in _word_units(seg, seg_text, base):
            yield replace(unit, compound=span) if span else unit


def _apart_at_framing(seg: _Segment, in_term: Callable[[int, str], bool]) -> list[_Segment]:
    """A segment split around its question and framing words (图神经网络|怎么办, 注意力机制|原理): the words before
    and after one may each name one thing, and the framing word is a unit of its own. A lone framing character
    stays where it is: it is as often part of a name (图 in 图神经网络). A framing word that is part of a name
    (过程 in 高斯过程) leaves its neighbour alone either way: such a segment was never taken as one name."""
    def framing(off: int, word: str) -> bool:
        return len(word) > 1 and (word in QUESTION_WORDS_ZH or word in FRAMING_WORDS) and not in_term(off, word)

    if not any(framing(off, word) for off, word in seg.words):
        return [seg]
    parts: list[_Segment] = []
    current: list[tuple[int, str]] = []
    for off, word in seg.words:
        if framing(off, word):
            if current:
                parts.append(_Segment(current[0][0], current[-1][0] + len(current[-1][1]), current))
            parts.append(_Segment(off, off + len(word), [(off, word)]))
            current = []
        else:
            current.append((off, word))
    if current:
        parts.append(_Segment(current[0][0], current[-1][0] + len(current[-1][1]), current))
    return parts


def _number_forms(word: str) -> tuple[str, ...]:
    """The other number of an English noun, as a word's last part may be written: head -> heads, weights ->
    weight, policy -> policies. Letters only, three or more."""
    if not word.isalpha() or len(word) < 3:
        return ()
    if word.endswith("ies"):
        return (word[:-3] + "y",)
    if word.endswith(("ses", "xes", "ches", "shes")):
        return (word[:-2],)
    if word.endswith("s") and not word.endswith("ss"):
        return (word[:-1],)
    if word.endswith("y") and word[-2] not in "aeiou":
        return (word[:-1] + "ies",)
    return (word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s"),)


CONTRACTIONS = frozenset({"s", "t", "re", "ve", "ll", "m", "d"})  # it's, don't, they're, we've, it'll, I'm, I'd


_APOSTROPHES = "'’‘ʼ"


def _contraction(text: str, start: int, end: int, word: str) -> bool:
    """Whether `word` is a part of an English contraction or the s of a possessive (transformer's, DON'T): no word
    of the topic, though the notes hold it as a term of its own. An apostrophe opening a quote ('re module) is not
    one."""
    if word in CONTRACTIONS and start > 1 and text[start - 1] in _APOSTROPHES and text[start - 2].isalnum():
        return True
    return word.endswith("n") and end + 1 < len(text) and text[end] in _APOSTROPHES and text[end + 1] in "tT"


def _compound_options(text: str, words: list[tuple[int, str]]) -> tuple[tuple[str, ...], ...]:
    """The ways a note holds a compound: every word's terms (`_word_option`), a lone character through its bigram
    with either neighbour (集 in 测试集污染: the notes write 测试集 and 污染, never 集污)."""
    choices: list[list[tuple[str, ...]]] = []
    for off, word in words:
        if len(word) == 1:
            around = [text[j : j + 2] for j in (off - 1, off) if j >= 0 and j + 2 <= len(text)]
            choices.append([(gram,) for gram in around] or [(word,)])
        else:
            choices.append([_word_option(word)])
    options = list(dict.fromkeys(tuple(dict.fromkeys(term for part in combo for term in part))
                                 for combo in product(*choices)))
    # An option holding all the terms of another never matches where that one does not: keep the smaller.
    return tuple(option for option in options
                 if not any(other != option and set(other) <= set(option) for other in options))


def _word_units(seg: _Segment, seg_text: str, base: int) -> Iterator[Unit]:
    """A segment's words as units of their own."""
    for off, word in seg.words:
        start, end = base + off, base + off + len(word)
        if seg.end - seg.start == 1:
            yield Unit(word, start, end, ((word,),), word)
        elif len(word) == 1:
            # A lone character is matched through the bigrams that hold it in its segment.
            i = off - seg.start
            around = [seg_text[j : j + 2] for j in (i - 1, i) if j >= 0 and j + 2 <= len(seg_text)]
            yield Unit(word, start, end, tuple((b,) for b in around), around[0])
        elif len(word) == 2:
            yield Unit(word, start, end, ((word,),), word)
        else:
            grams = _bigrams(word)
            yield Unit(word, start, end, ((word,), grams), grams[0])


def _pieces(words: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The segment's words, a lone character joined to the word after it (or before it, at the end): 树 in
    B+树索引 and 隐 in 隐马尔可夫 belong to their neighbour."""
    pieces: list[tuple[int, str]] = []
    carry: tuple[int, str] | None = None
    for off, word in words:
        if carry is not None:
            off, word = carry[0], carry[1] + word
            carry = None
        if len(word) == 1:
            carry = (off, word)
            continue
        pieces.append((off, word))
    if carry is not None:
        if pieces:
            off, word = pieces.pop()
            pieces.append((off, word + carry[1]))
        else:
            pieces.append(carry)
    return pieces


def _word_option(word: str) -> tuple[str, ...]:
    """The terms that stand for a Han word inside a compound: itself when two characters long, else its bigrams
    (the note may be cut into other words, its bigrams are the same)."""
    return (word,) if len(word) <= 2 else _bigrams(word)


def _sequence(text: str) -> Phrase:
    """The query's terms in text order, one per position, each with its offset from the first: what an exact
    phrase would hold, and where (a stop word or a sentence's end between two words keeps its room: 模型的参数,
    "et al. 2017")."""
    seen: dict[int, str] = {}
    for term in index_terms(text):
        seen.setdefault(term[1], term[0])
    first = min(seen, default=0)
    return tuple((seen[p], p - first) for p in sorted(seen))


def plan_query(query: str, *, compounds: bool = True, terms: Sequence[tuple[int, int]] = ()) -> QueryPlan:
    """Analyze a query the way notes are analyzed; query syntax characters are plain text. Without `compounds`
    every Han word is a unit of its own (see `_han_units`). `terms`: where the query writes glossary terms
    (offsets into its folded text), whose words are names, not framing."""
    cased = fold(query)  # positions come from the text as written: PyTorch takes two (py, torch), pytorch one
    folded = cased.lower()
    plan = QueryPlan(text=folded)
    for match in _QUOTED.finditer(cased):
        inner = next(g for g in match.groups() if g is not None)
        phrase = _sequence(inner)
        if len(phrase) > 1:
            plan.phrases.append(phrase)
            plan.phrase_texts.append(" ".join(inner.lower().split()))
    seen: set[tuple[tuple[str, ...], ...]] = set()
    shouting = not any(char.islower() for char in cased) and not _HAS_HAN.search(cased)  # WHY IS GELU SLOW
    cuts = _Cuts(without_requests(cased), terms)
    asked = is_question(folded)
    plan.described = not asked and _describes(cuts.words, cased)
    plan.question = asked or plan.described
    previous: tuple[Unit, int] | None = None  # the last word unit and where its run ended
    for match in _RUNS.finditer(cuts.text):
        run = match.group()
        words = cuts.within(match.start(), match.end()) if match.lastgroup == "han" else []
        lone = _leading_character(words)
        if lone is not None and previous is not None and _attached(cuts.text[previous[1] : match.start()]) \
                and plan.units and plan.units[-1] is previous[0] and not previous[0].text.isdigit() \
                and len(previous[0].text) <= 2:
            # A character written onto a letter (B+树, T恤, X光) names one thing with it: both must be there. Not
            # onto a number (加 in 从1792加到1793 is a verb) or a word (写 in 用Triton写, 训 in BPE训起来).
            word = plan.units.pop()
            seen.discard(word.options)
            text = cuts.text[word.start : match.start() + 1].lower()
            plan.units.append(Unit(text, word.start, match.start() + 1, ((word.text, lone),), word.text, named=True))
            words = words[1:]
            run, offset = run[1:], match.start() + 1
        else:
            offset = match.start()
        if match.lastgroup == "han":
            units: Iterable[Unit] = _han_units(run, [(off - (offset - match.start()), w) for off, w in words], offset,
                                               cuts.text[offset - 1] if offset else "",
                                               compounds=compounds and not plan.question, terms=terms)
        else:
            whole = run.lower()
            parts = tuple(word_parts(run))
            if (whole in STOP_WORDS_EN and not parts) or _contraction(cuts.text, match.start(), match.end(), whole):
                continue
            if not parts and (singular := _ACRONYM_PLURAL.fullmatch(run)) is not None:
                whole = singular.group(1).lower()  # CPUs: the notes' CPU and CPUs both hold cpu
            # A letter of its own (t of t-test, k of k-NN, x of xFormers) follows some word in every note: such a
            # word is only found as written, or joined (ttest, kNN), never by its parts.
            apart = [] if any(len(part) == 1 and part.isalpha() for part in parts) else parts
            options: tuple[tuple[str, ...], ...] = ((whole,), tuple(apart)) if apart else ((whole,),)
            if apart:  # KV-head is written KV heads too
                options += tuple((*apart[:-1], form) for form in _number_forms(apart[-1]))
            if parts and not any(char.isdigit() for char in whole):  # hand-written: also handwritten
                options += (("".join(parts),),)
            if len(apart) > 1 and apart[-1] in MODIFIER_SUFFIXES:  # Elo-style: what the notes call Elo
                options += (tuple(apart[:-1]),)
            options += tuple((variant,) for variant in english_variants(whole))
            coined = any(char.isupper() for char in run[1:]) or any(char.isdigit() or char in "_." for char in run)
            named = coined or run != whole  # not hand-written
            acronym = not shouting and not parts and run.isupper() and sum(char.isalpha() for char in run) >= 2
            units = [Unit(whole, match.start(), match.end(), tuple(dict.fromkeys(options)), whole, named,
                          coined=coined, acronym=acronym)]
        previous = None
        for unit in units:
            if unit.options not in seen:  # a repeated word counts once
                seen.add(unit.options)
                plan.units.append(unit)
                previous = (unit, match.end()) if match.lastgroup == "word" else None
    if plan.question:
        plan.units = _classified(plan.units, folded)
    plan.sequence = _sequence(cased)
    return plan


# Words that tell a description in the asker's own words (用更少的比特存权重让模型变小, 一块一块地算 softmax) from a
# list of keywords: prepositions, particles, adverbs, measures, modal verbs (能, 会, 要, 可以), when (时) and sequence
# words (然后, 最后). Two of them, or one and a clause break, and the query is read as a question: its words are
# weighed, its wording may be missing from the notes, its partial matches follow.
# Not 的, 里, 上 or 中, which join names into one (爱因斯坦场方程里的张量, a topic the notes lack, stays keywords).
_DESCRIBING_ZH = _words("""把 被 让 给 用 在 地 得 了 着 过 再 就 才 又 也 都 还 不 没 只 很 太 更 从 按 往
    个 条 张 已经 一起 一遍 一次 同时 直接 互相 之前 之后 以后 好几个 几个 每个 一部分 各 比 来 有的 还是
    越来越 逐渐 不断 一直 总是 经常 常常 往往 非常 特别 十分 相当 仍然 依然 突然 可以 然后 最后 一边 大约 导致""")
# Of those words, the one-character ones that tell a sentence only where the query writes one, its Chinese not
# spaced into a list: jieba cuts 训练时 and 模型能 in two, and 过拟合 要 早停 lists three names.
_DESCRIBING_UNSPACED = _words("时 能 会 要")
# Of those, the ones that alone make a sentence: 把 and 被 put a thing before its verb, 让 makes one do something.
_DESCRIBING_ALONE = _words("把 被 让")
# Of those, the adverbs and numbers of things never inside a name (`never_in_a_name`).
_NEVER_IN_A_NAME = _words("再 才 不 没 只 太 一遍 一次 一起 同时 直接 互相 好几个 几个 每个 一部分 有的")


def never_in_a_name(word: str) -> bool:
    """An adverb or a number of things (再, 好几个): a stretch of a question holding one is the asker's sentence
    (程度再加大), not a compound naming one thing, and the word itself names nothing the notes must write."""
    return word in _NEVER_IN_A_NAME


_CLAUSE_BREAK = re.compile(rf"[{_HAN}]\s*[，,；;]")
_SPACED_HAN = re.compile(rf"[{_HAN}]\s+[{_HAN}]")


def _describes(words: Sequence[str], text: str) -> bool:
    """Whether a query that asks no question describes its topic in a Chinese sentence instead of naming it. Not in
    English: plain English words carry no part of speech to tell the asker's wording from a name, and a sentence of
    them read as a question lets a topic the notes lack through on its common words. `words`: jieba's cut of `text`
    (the words it lists are all Chinese)."""
    if any(word in _DESCRIBING_ALONE for word in words):
        return True
    telling = sum(word in _DESCRIBING_ZH for word in words)
    if _SPACED_HAN.search(text) is None:
        telling += sum(word in _DESCRIBING_UNSPACED for word in words)
    return telling >= 2 or (telling == 1 and _CLAUSE_BREAK.search(text) is not None)


def writes_capitals(text: str, word: str) -> bool:
    """Whether `text` writes `word` (asked in capitals, lower-cased here) as a word of its own, or its plural, with
    a capital in it, as a name is written: CAP in "the CAP theorem", NVLink for NVLINK, LoRA for LORA; not \\cap,
    cap(x) or the Cap of CapEx."""
    return any(any(char.isupper() for char in match.group()) for match in _as_a_word(word).finditer(text))


@functools.lru_cache(maxsize=256)
def _as_a_word(word: str) -> re.Pattern[str]:
    # Letters and digits only around it: a Chinese word may follow at once (GPU显存).
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(word)}(?:e?s)?(?![A-Za-z0-9])", re.IGNORECASE)


def _classified(units: list[Unit], text: str) -> list[Unit]:
    """A question's Chinese words with their word class. Characters the dictionary leaves alone side by side may
    be a word it does not know: NEW when jieba's new-word guesser joins them into a noun (变分 in 变分自编码器,
    not 多大 or 没啥), part of a name where the notes hold them (see `absence.absent_units`)."""
    classes = [JIEBA.word_class(unit.text) if unit.han else WordClass.THING for unit in units]
    for first, end in _lone_character_runs(units):
        start = units[first].start
        context = text[start : units[end].end if end < len(units) else _reach(units, end - 1)]  # the run, the next word
        for offset, length in JIEBA.guessed_nouns(context):
            for k in range(first, end):
                if start + offset <= units[k].start and units[k].end <= start + offset + length:
                    classes[k] = WordClass.NEW
    return [replace(unit, word_class=cls) if unit.han else unit for unit, cls in zip(units, classes, strict=True)]


def _lone_character_runs(units: list[Unit]) -> Iterator[tuple[int, int]]:
    """[first, end) of each run of single Han characters written with nothing between them, two or more
    characters long. A lone character's neighbour searched through the same pair was dropped as a repeat (程 of
    协程, 框 of 锚框): the one left stands for both."""
    first = 0
    for i in range(1, len(units) + 1):
        joined = i < len(units) and lone_han(units[i]) and lone_han(units[i - 1]) \
            and units[i].start <= _reach(units, i - 1)
        if not joined:
            if _reach(units, i - 1) - units[first].start >= 2 and all(lone_han(u) for u in units[first:i]):
                yield first, i
            first = i


def _reach(units: list[Unit], index: int) -> int:
    """Where the characters a lone character's unit stands for end (`pair_end`), when no unit starts after it: one
    further where its pair's second character was dropped as a repeat (程 of 协程)."""
    unit = units[index]
    following = units[index + 1].start if index + 1 < len(units) else None
    return pair_end(unit) if following != unit.end else unit.end


def pair_end(unit: Unit) -> int:
    """Where the characters a unit stands for end: a lone character searched only as the pair it begins (协 of 协程)
    ends after that pair."""
    pair = unit.options[0][0] if len(unit.options) == 1 and len(unit.options[0]) == 1 else ""
    return unit.end + 1 if lone_han(unit) and len(pair) == 2 and pair[0] == unit.text else unit.end


def lone_han(unit: Unit) -> bool:
    """A single Han character standing alone as a unit (树 of B+树, 逆 of 逆强化学习)."""
    return len(unit.text) == 1 and unit.han


def _leading_character(words: list[tuple[int, str]]) -> str | None:
    """The run's first character when it stands alone before a function word or the run's end (树 in 树为什么…)."""
    if not words or len(words[0][1]) != 1 or words[0][1] in STOP_WORDS_ZH:
        return None
    return words[0][1] if len(words) == 1 or words[1][1] in STOP_WORDS_ZH else None


def _attached(between: str) -> bool:
    """Whether a character follows a word with at most a symbol between them, no space (B+树, C语)."""
    return len(between) <= 2 and not any(char.isspace() for char in between)


def match_keys(text: str) -> list[tuple[str, int, int]]:
    """Glossary matching keys: each Han character and each word part, with offsets in the folded text.

    Han characters are keys one by one so that a term matches inside a longer run (注意力 in 多头注意力机制);
    words split only at `_`, `-`, `.` so `kv-cache`, `KV cache` and `kv_cache` compare equal.
    """
    folded = fold(text)
    keys: list[tuple[str, int, int]] = []
    for match in _RUNS.finditer(folded):
        base = match.start()
        if match.lastgroup == "han":
            keys.extend((ch, base + i, base + i + 1) for i, ch in enumerate(match.group()))
            continue
        offset = base
        for piece in re.split(r"([_.\-]+)", match.group()):
            if piece and not _SEPARATORS.fullmatch(piece):
                keys.append((piece.lower(), offset, offset + len(piece)))
            offset += len(piece)
    return keys


def framed(units: Sequence[Unit], weights: Sequence[float]) -> list[float]:
    """The weights with framing words at zero, unless the query has nothing else."""
    if all(unit.framing for unit in units):
        return list(weights)
    return [0.0 if unit.framing else weight for unit, weight in zip(units, weights, strict=True)]


def coverage(weights: Sequence[float], satisfied: Sequence[bool]) -> float:
    """The share of the query's weight that a section matches."""
    total = sum(weights)
    if total <= 0:
        return 0.0
    return sum(w for w, ok in zip(weights, satisfied, strict=True) if ok) / total


# --- a section's postings -------------------------------------------------------------------------------

TITLE, HEADING, BODY, CODE = "title", "heading", "body", "code"
ZONE_BASES = {TITLE: 0, HEADING: 1 << 19, BODY: 1 << 20, CODE: 1 << 30}
"""Where each part of a section starts in the one indexed field: far enough apart that no phrase or proximity
test spans two parts, and the part a position lies in can be told from the position alone."""


_ZONE_ENDS = {zone: end - SENTENCE_GAP for zone, end in ((TITLE, ZONE_BASES[HEADING]), (HEADING, ZONE_BASES[BODY]),
                                                           (BODY, ZONE_BASES[CODE]), (CODE, 1 << 31))}
# the last position of each zone: no position lands in the next one, or as near it as two words of one sentence


def zone_of(position: int) -> str:
    if position >= ZONE_BASES[CODE]:
        return CODE
    if position >= ZONE_BASES[BODY]:
        return BODY
    return HEADING if position >= ZONE_BASES[HEADING] else TITLE


def section_terms(parts: Iterable[tuple[str, str, float]]) -> tuple[dict[str, tuple[list[int], float]], float]:
    """The terms of a section's parts (zone, text, boost): per term its positions (each zone from its base)
    and its weight (the sum of the boosts of its occurrences), and the section's weighted length.

    Weighting occurrences by their part and scoring the sums with BM25 is BM25F: a title word counts for
    several body words, and long sections are normalized by their weighted length."""
    found: dict[str, tuple[list[int], list[float]]] = {}
    length = 0.0
    for zone, text, boost in parts:
        if not text:
            continue
        terms = index_terms(text, ZONE_BASES[zone])
        last = _ZONE_ENDS[zone]
        if terms and max(pos for _, pos in terms) > last:  # a part too long for its zone (10,000 sentences)
            terms = [(term, min(pos, last)) for term, pos in terms]  # its tail shares the zone's last position
        length += boost * len(terms)
        for term, pos in terms:
            entry = found.get(term)
            if entry is None:
                found[term] = ([pos], [boost])
            else:
                entry[0].append(pos)
                entry[1].append(boost)
    return {term: (positions, sum(boosts)) for term, (positions, boosts) in found.items()}, length
