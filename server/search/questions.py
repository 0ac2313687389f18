"""Questions as people ask them: telling a question from a list of keywords, the words that only frame it, and
the spellings of an English word the notes may use instead (slower → slow, trained → train).

A question carries words the notes will not repeat ("why is … so much slower than …"); the engine then does
not demand most of the query's weight from a section (`ranking.MIN_COVERAGE`) but ranks every section that
holds enough of it, full matches first (see `engine`). Pure: no index, no files.
"""

from __future__ import annotations

import re

# A question asked as A-not-A (难不难, 稳不稳, 靠不靠谱); named, so that another pattern may hold it too.
A_NOT_A = r"(?P<asked>[\u4e00-\u9fff])不(?P=asked)"
_ZH_QUESTION = re.compile(r"为什么|为何|为啥|怎么|怎样|如何|是什么|什么是|什么|有何|有什么|区别|差别|不同|多少|"
                          r"几个|几种|几倍|多大|多久|多长|多快|哪|是否|能否|可否|能不能|会不会|有没有|是不是|要不要|可不可以|该不该|对不对|难道|"
                          rf"干嘛|干啥|干什么|啥|咋|吗|呢|{A_NOT_A}|[？?]")
_EN_QUESTION = re.compile(
    r"^\s*(?:why|how|what|which|when|where|who|whom|whose|does|do|did|is|are|was|were|can|could|should|would|will"
    r"|shall|explain|derive|prove|describe|compare|visuali[sz]e|summari[sz]e|teach|give|show|help)\b"
    r"|[:;]\s*(?:why|how|what|which|when|where|who)\b|\bdifference between\b|\bvs\.?\b|\bversus\b|\?",
    re.IGNORECASE,
)

# The words with which a Chinese question turns from what it asks about to what it asks (孪生网络|是怎么…).
_ZH_ASKING = re.compile(r"是什么|是怎么|是怎样|是如何|怎么|怎样|如何|为什么|为何|为啥|有什么|有哪些|有何|能不能|会不会|"
                        r"能否|是否|是不是|有没有|要不要|可不可以|到底|究竟")
_CLAUSE_END = re.compile(r"[，,。；;：:！!？?\n]")
_LIST = re.compile(r"[和跟与及或、/&]|还是|\b(?:and|or|vs)\b")  # 残差连接和层归一化跟dropout: three things, not one


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# English words that shape a question without naming its topic (beyond the analyzer's stop words).
QUESTION_WORDS_EN = _words(
    """why how what which when where who whom whose does do did is are was were can could should would will shall
    difference differences between versus vs instead rather than same different similar compared compare
    mean means meaning correspond corresponds refer refers matter matters happen happens work works really actually
    apply applies applied applicable useful
    exactly typically usually
    generally often always never much many more most less least few lot lots whether kind kinds type types
    say says said called call tell explain explained one ones thing things way ways up
    every still without within over ever even yet already else own other another anything something everything
    nothing while because since though although unless after before during until once past across through throughout
    among around toward towards upon onto beyond roughly approximately basically simply mostly mainly
    made go goes going went gone come comes coming came take takes taking took taken give gives gave put puts
    keep keeps kept let lets become becomes became seem seems seemed turn turns turned turning
    only almost nearly quite please teach walkthrough behind rationale intuition nutshell summarize
    summarise pitfall pitfalls gotcha gotchas caveat caveats mistake mistakes checklist
    confuse confuses confused confusing understand lol lmao eli5 noob newbie dumb silly stupid yo wtf plz pls bro
    dude tldr tl dr analogy analogies intuitively intuitive derive prove describe visualize visualise quiz"""
)
QUESTION_WORDS_ZH = _words(
    """为什么 为何 为啥 怎么 怎样 如何 是什么 什么 有何 有什么 区别 差别 不同 多少 几个 几种 哪些 哪个 哪种
    是否 能否 可否 能不能 会不会 分别 一般 通常 主要 到底 究竟 具体 需要 应该 可以 能够 一样 相比 比较
    有关 关系 相关 联系 这么 那么 这样 那样 时候 干嘛 干啥 干什么 怎么办 啥 咋 咋回事 怎么回事 啥意思 什么意思
    几倍 多少倍 多大 多久 多长 多快 几次 几层 几步 几天
    现在 目前 如今 当前 后来 最近 已经 然后 其实 总是 经常 往往 常常 仍然 依然 几乎"""
)


# Verbs a question may use where the notes use another for the same act (加快训练 where a note writes 加速): general
# wording, not terminology, so not in the glossary; searched as another spelling of the asker's verb.
_SAME_VERB = tuple(frozenset(group.split()) for group in (
    "加快 加速 提速", "减少 降低 减小", "提高 提升", "避免 防止", "导致 造成 引起", "节省 节约"))


def same_verbs(word: str) -> list[str]:
    """The other verbs a note may use for a question's `word` (加速 and 提速 for 加快), or []."""
    return sorted(next((group - {word} for group in _SAME_VERB if word in group), ()))


def is_question(query: str) -> bool:
    return bool(_ZH_QUESTION.search(query) or _EN_QUESTION.search(query))


def english_variants(word: str) -> list[str]:
    """Other spellings of an English word the notes may use: its stem without a plural, past, -ing,
    comparative or adverb ending (slower → slow, trained → train, models → model, faster → fast), the verb
    of a noun in -ization (visualization → visualize), and the noun of a verb in -ize, -ate or -ive (hallucinate →
    hallucination, derive → derivation)."""
    if len(word) < 5 or not word.isalpha() or not word.isascii():
        return []
    found: list[str] = []
    for suffix, replacement in (("ization", "ize"), ("isation", "ise"), ("ize", "ization"), ("ise", "isation"),
                                ("ate", "ation"), ("ive", "ivation"),
                                ("ies", "y"), ("iest", "y"), ("ier", "y"), ("ied", "y"), ("sses", "ss"),
                                ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("s", ""), ("ed", ""), ("ed", "e"),
                                ("ing", ""), ("ing", "e"), ("er", ""), ("er", "e"), ("est", ""), ("ly", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: len(word) - len(suffix)] + replacement
            if stem.endswith(("ss", "us", "is")) and suffix == "s":
                continue
            if len(stem) >= 3 and stem != word and stem not in found:
                found.append(stem)
            if suffix in ("ed", "ing", "er", "est") and len(stem) >= 4 and stem[-1] == stem[-2]:  # stopped → stop
                found.append(stem[:-1])
    return found[:3]


_INFLECTED_ENDINGS = ("s", "ing", "ed", "ly")


def inflected_forms(word: str) -> list[str]:
    """The plural and -ing forms of a plain English word, which the notes may write where they never write the word
    itself (spike → spikes, loss → losses, jailbreak → jailbreaking); none for a word already inflected."""
    if len(word) < 4 or not word.isalpha() or not word.isascii():
        return []
    if word.endswith(_INFLECTED_ENDINGS) and not word.endswith("ss"):
        return []
    if word.endswith(("ss", "x", "ch", "sh", "z")):
        plural = word + "es"
    elif word.endswith("y") and word[-2] not in "aeiou":
        plural = word[:-1] + "ies"
    else:
        plural = word + "s"
    stem = word[:-1] if word.endswith("e") and not word.endswith("ee") else word
    return [plural, stem + "ing"]


def subject_end(text: str) -> int | None:
    """Where a Chinese question's subject ends: the offset of its first question word, when the question opens
    with the one thing it asks about, in one clause (孪生网络是怎么判断…, Tree of Thoughts 提示法是如何…). None
    when it opens with the question word (为什么…), another clause comes first (我发现…，为什么…), or it opens
    with several things (A和B有什么区别: either may be the one the notes hold)."""
    asking = _ZH_ASKING.search(text)
    if asking is None or asking.start() == 0:
        return None
    opening = text[: asking.start()]
    return None if _CLAUSE_END.search(opening) or _LIST.search(opening) else asking.start()


# How an English question opens before its subject: "how does a …", "what do the …", "why doesn't the …", "has
# the …". "what is X" opens so too; a question defining a term is judged as such first (`absence._defining`).
_EN_SUBJECT_OPENING = re.compile(
    r"^\s*(?:(?:why|how|what|when|where|which)\s+)?"
    r"(?:do|does|did|is|are|was|were|has|have|had|can|could|would|should|will)(?:n['’]?t)?\s+"
    r"(?:(?:a|an|the|my|our|your|its|their|this|that|these|those|each|every|any|some)\s+)?", re.IGNORECASE)
_EN_PRONOUNS = frozenset(["i", "we", "you", "they", "he", "she", "it", "there", "one", "someone", "anyone",
                          "everyone", "people", "me", "us", "them"])
_EN_ADVERBS = frozenset(["slightly", "really", "actually", "usually", "typically", "generally", "basically",
                         "very", "quite", "fairly", "rather", "just", "even", "still", "always", "often",
                         "sometimes", "suddenly", "mostly", "largely", "so", "too"])
_SUBJECT_OPENING_WORDS = 2  # the subject's first words: its head, or the words of a name it opens with


def subject_opening(text: str) -> tuple[int, int] | None:
    """Where an English question's subject opens: the offsets of its first two words after the question and
    auxiliary words and a determiner, adverbs passed over (operating system of "what does the operating system
    save …", oversized matrix of "why do slightly oversized matrix shapes …"). Two words, not the whole subject:
    with no parts of speech, where the subject ends is unknown ("how does torch.compile fuse" gives torch.compile
    fuse). None for a question opening otherwise, or with a pronoun (why is it misleading to …, how do I …)."""
    opening = _EN_SUBJECT_OPENING.match(text)
    if opening is None:
        return None
    words = [word for word in re.finditer(r"[^\s?,.;:!]+", text[opening.end():])
             if word.group().lower() not in _EN_ADVERBS][:_SUBJECT_OPENING_WORDS]
    if not words or words[0].group().lower() in _EN_PRONOUNS:
        return None
    return opening.end() + words[0].start(), opening.end() + words[-1].end()


_ZH_COMPARING = re.compile(r"(?:之间)?(?:的)?(?:有什么|有啥|有何|是什么|是啥)?(?:区别|不同|差别|差异|异同)")
# A和B有什么联系: how two things relate is asked of both, as how they differ is; of three or more (残差连接和层归一化
# 跟dropout有什么关系) the notes may answer for some.
_ZH_RELATING = re.compile(r"(?:之间)?(?:有什么|有啥|有何|是什么|是啥)(?:联系|关系|关联)")
_EN_COMPARING = re.compile(r"\bdifferences?\s+between\s+(.+?)\s+and\s+(.+?)\s*(?:[?？.!,，]|$)"
                           r"|^\s*([^\s?]+(?:\s+[^\s?]+){0,2})\s+(?:vs\.?|versus)\s+([^\s?]+(?:\s+[^\s?]+){0,2})\s*[?？]?\s*$",
                           re.IGNORECASE)


_EN_COMPARED_WITH = re.compile(
    r"^\s*(?:how\s+(?:does|do|did|would|will)\s+)?(?:(?:a|an|the)\s+)?([^\s?][^?]*?)\s+compares?\s+"
    r"(?:with|to|against)\s+(?:(?:a|an|the)\s+)?([^\s?][^?]*?)\s*[?？.!]?\s*$", re.IGNORECASE)


def compared_spans(text: str) -> list[tuple[int, int]]:
    """Where a question names the things it compares (git rebase|merge of git rebase和merge的区别, A and B of
    "difference between A and B", A vs B, how does A compare with B): (start, end) offsets of each, or [] for any
    other question."""
    english = _EN_COMPARING.search(text) or _EN_COMPARED_WITH.search(text)
    if english is not None:
        groups = [i for i in range(1, (english.re.groups or 0) + 1) if english.group(i) is not None]
        return [english.span(i) for i in groups]
    asking = _ZH_COMPARING.search(text)
    relating = asking is None
    if relating:
        asking = _ZH_RELATING.search(text)
    if asking is None:
        return []
    clause_start = max((match.end() for match in _CLAUSE_END.finditer(text, 0, asking.start())), default=0)
    spans: list[tuple[int, int]] = []
    start = clause_start
    for separator in _LIST.finditer(text, clause_start, asking.start()):
        spans.append((start, separator.start()))
        start = separator.end()
    spans.append((start, asking.start()))
    return spans if len(spans) == 2 or (len(spans) > 2 and not relating) else []


# A question asking whether its subject serves another thing, yes or no (RoPE 能用在点云上吗, can RoPE be applied to
# point clouds, does BPE work for DNA sequences): the words that apply it, then the thing it is applied to, ending
# the question. Not a why or how question (GQA 为什么能用于长上下文, why is RoPE applied to queries): it says the
# subject applies and asks something else of it.
_ZH_APPLIED = re.compile(
    r"(?P<applying>(?:能|可以|能否|能不能|可不可以|可否)(?:直接)?"
    r"(?:用在|用于|应用于|应用在|用到|适用于|拿来做|用来做|拿来给|用来给|拿来|用来)"
    # Said, not asked, of a description read as a question (Chinchilla scaling 用在天气预报模型): still whether it does.
    r"|用在|应用于|应用在|用到)"
    r"(?P<target>[^，,。；;：:！!？?\n]+?)"
    r"(?:的?(?:上面|上|里面|里|中|当中|方面|领域))?(?:吗|么|嘛|呢|吧|可以吗|行吗|好吗|效果怎么样|效果如何)?\s*[？?]?\s*$")
# … or whether what holds of its subject holds of another thing too (muP 对卷积网络也成立吗).
_ZH_HOLDS_FOR = re.compile(
    r"(?P<applying>对于|对)(?P<target>[^，,。；;：:！!？?\n]+?)(?:也|同样|还|都)?(?:成立|适用|有效|管用)"
    r"(?:吗|么|嘛|呢)\s*[？?]?\s*$")
_ZH_ASKING_ELSE = re.compile(r"为什么|为何|为啥|怎么|怎样|如何")
_EN_APPLIED = re.compile(
    r"^\s*(?:can|could|does|do|is|are|would|will|should)\b.*?"
    r"\b(?P<applying>(?:work|works|be\s+used|used|apply|applied|useful|help|helps)\s+(?:for|on|to|in|with))\s+"
    r"(?:(?:a|an|the)\s+)?(?P<target>[^?.,;]+?)\s*[?？.]?\s*$", re.IGNORECASE)


def applied_spans(text: str) -> list[tuple[int, int]]:
    """Where a yes-or-no question names its subject and the thing it asks whether the subject applies to (RoPE|点云
    of RoPE 能用在点云上吗; BPE tokenization|DNA sequences of "does BPE tokenization work for DNA sequences"):
    [subject, target] offsets, or [] for any other question. The subject is the rest of the clause: a section on
    it that never names the target says nothing of the two together."""
    for pattern in (_ZH_APPLIED, _ZH_HOLDS_FOR, _EN_APPLIED):
        found = pattern.search(text)
        if found is None or _ZH_QUESTION.search(found.group("target")) or \
                (pattern is not _EN_APPLIED and _ZH_ASKING_ELSE.search(text)):
            continue  # 用于训练的数据怎么清洗: the question is about what follows, not whether it applies
        clause_start = max((match.end() for match in _CLAUSE_END.finditer(text, 0, found.start())), default=0)
        subject = (clause_start, found.start("applying"))
        if text[subject[0]:subject[1]].strip() and found.group("target").strip():
            return [subject, found.span("target")]
    return []


_LISTED_BEFORE = re.compile(r"(?:[和跟与及或、/&]|还是|\b(?:and|or)\b)\s*$", re.IGNORECASE)
_LISTED_AFTER = re.compile(r"\s*(?:[和跟与及或、/&]|还是|\b(?:and|or)\b)", re.IGNORECASE)


def listed(text: str, start: int, end: int) -> bool:
    """Whether the word at [start, end) is one of several things the question lists (dropout of 残差连接和层归一化
    跟dropout有什么关系), a list word right before or after it."""
    return _LISTED_BEFORE.search(text, 0, start) is not None or _LISTED_AFTER.match(text, end) is not None


# Nouns that name no thing of their own: a compound ending in one (检测办法, 训练情况) asks about its other words.
_NAMELESS_HEADS = _words("办法 做法 方法 方式 手段 情况 东西 时候 结果 原因 问题 效果 过程")


def names_nothing(word: str) -> bool:
    """Whether `word` is a noun naming no thing of its own (办法, 情况), the head of a compound about its other
    words."""
    return word in _NAMELESS_HEADS
