"""A semester of study, simulated through the MCP tools: what the session briefing keeps, and how fast writes stay.

A temporary copy of `examples/cs336` is served by `python -m server --root COPY` over a real stdio connection
(the mcp SDK's `Client`), and grown stage by stage *through the tools*, the way an assistant would write it
over a term: deep discussions (`record_discussion`, all five parts, tags, lecture), insights (`append_insight`),
research TODOs (`add_research_todo`, about a third ticked with `complete_research_todo`), lectures marked done
(`update_progress`, with a `save_lecture_note` for each), and 下一步计划 rewritten (`read_memory` then
`update_section`) at the end of every stage. The content comes from templates over CS336 topics and is fixed
by `--seed`. Sizes are totals (discussion files / insights / TODO items / lectures done); a size the memory
already exceeds is left as it is. An empty memory made by `python -m server init DIR --preset cs336-zh`
and the bundled example as it ships are measured too.

At every size `get_session_context` is called at each `--budgets` value, recording the tokens the tool
reports, the text the model reads (the result's text content) with the project's own estimate of it, the
omitted list, and which *lead facts* the text holds. The truth for each fact is read from the files on disk:

- progress: `T/17` (any total), T = rows marked ✅ in 学习进度.md's table (what update_progress maintains);
- next lecture: the first row not marked ✅, found as `Lecture 04` / `Lecture 4` or its topic
  (`Mixture of Experts`); not applicable when every lecture is done;
- conflict: only at the size `--conflict-at`, where the working memory's 当前进度状态 line (已完成讲座) is edited
  on disk to T-1 (T+1 when T is 0) while 学习进度.md's table still says T (the disagreement the server flags;
  the table is its source of truth); present when one line of the text shows both figures (`S/17` and `T/17`),
  however it is worded. The report quotes what the next update_progress said about it;
- rules: the person's working rules, four markers: 苏格拉底 (the questioning mode); the five-part record
  (五段 / 五个部分 / 五部分 / five parts, or three of the part names 原始问题 思维过程 技术细节 方法论提炼
  实践指导); 24小时 (the write-up deadline); 原始问题 (keep the learner's first question). Present when the
  text has at least 3 of the 4; applicable when the working memory on disk has at least 3. The generated
  content never uses these words, so only the person's own rules can produce them;
- newest insight: the title of the last `###` under 重要技术洞察记录 on disk, verbatim.

Write latency: when the growing memory reaches each `--latency-at` insight count, it is copied (without its
index) to a fork served by a fresh server, the fork's index is awaited, and every write tool is called
`--calls` times from the client, interleaved round by round: append_insight, record_discussion (a new topic),
add_research_todo, update_progress (an integer lecture, status flipped), save_lecture_note (replacing its own
note with the version the last save returned), update_section of 下一步计划 after an untimed read_memory for
its version, complete_research_todo of the item added in that round, revise_insight of that round's insight
after an untimed read_memory of its handle for the version, and undo_last_write by write_id of an untimed
append_insight. The fork's generator first learns the titles, topics and TODOs already on disk, so every
write is a new one (append_insight refuses an existing title). Read tools (get_session_context at 1500,
read_memory, search_discussions, list_discussions with and without a text filter) are timed in the same
rounds, without a target. Besides the wall time at the client, each call records the server process's CPU
time (utime + stime from /proc) and the SDK client's own output-schema check; the 1-minute load average is
sampled every round. Counts past the last size grow insights only.

Tools are taken from `list_tools`: a missing tool skips its measurement and the report says so; arguments
the tool's schema does not list are dropped (and reported). Each tool call is one small function below.

    .venv/bin/python bench/semester.py [--quick] [--sizes init,example,10/20/10/3,...] [--latency-at 10,100,1000]
        [--calls 40] [--server-at HEAD]

`--server-at HEAD` measures the committed server while others edit the working tree. Writes
bench/results/NAME.md and NAME.json (NAME: `--name`, default semester) and the BENCHMARKS.md section to
`--section` (default /tmp/semester_section.md); exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from common import (
    REPO_ROOT,
    RESULTS_DIR,
    code_changed_note,
    code_fingerprint,
    code_state,
    command_line,
    machine_facts,
    percentile,
    use_repo,
    write_result,
)

EXAMPLE = REPO_ROOT / "examples" / "cs336"
SERVER_SRC = REPO_ROOT  # where `python -m server` runs from; --server-at REV points it at a snapshot
WORKING = "AI助手工作记忆.md"
PROGRESS = "学习进度.md"
TODO_DOC = "深度探索TODO.md"
DISCUSSIONS = "深度讨论"
NEXT_STEPS_HANDLE = f"{WORKING}#下一步计划"

FULL_SIZES = "init,example,10/20/10/3,60/120/40/9,200/500/80/16"  # L16: a next lecture to find at the top
QUICK_SIZES = "init,example,10/20/10/3,30/60/20/6"
FULL_LATENCY = "10,100,1000"
QUICK_LATENCY = "10,40"
BUDGETS = "300,500,800,1500,4000"
TARGET_P95_MS = 150.0
RULES_FROM_BUDGET = 800
WRITE_TOOLS = ("append_insight", "record_discussion", "update_progress", "add_research_todo",
               "complete_research_todo", "update_section", "save_lecture_note")
NEWER_WRITE_TOOLS = ("revise_insight", "undo_last_write")
READ_TOOLS = ("get_session_context", "read_memory", "search_discussions", "list_discussions")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------
# Content: a semester of CS336 study, from templates. Never uses the rule markers (see the docstring).

# (name, English, lecture, tag, a fact worth remembering)
CONCEPTS: list[tuple[str, str, int, str, str]] = [
    ("字节级BPE", "byte-level BPE", 1, "分词", "初始词表是256个字节，合并规则按学到的顺序依次应用，不会出现UNK"),
    ("预分词正则", "pre-tokenization regex", 1, "分词", "GPT-2的正则先按空格和标点切块，合并只发生在块内部"),
    ("词表大小", "vocabulary size", 1, "分词", "词表从32K加到128K，嵌入层参数翻四倍，但序列变短约15%"),
    ("中文压缩率", "bytes per token", 1, "分词", "英文为主的词表下一个汉字常被切成2到3个token"),
    ("FLOPs计数", "FLOPs accounting", 2, "资源账务", "训练每个token约6N次浮点运算，前向2N、反向4N"),
    ("MFU", "model FLOPs utilization", 2, "资源账务", "MFU只数模型必需的FLOPs，重计算不算在内"),
    ("混合精度", "mixed precision", 2, "资源账务", "BF16存激活和梯度，FP32保留主权重和累加器"),
    ("AdamW显存", "AdamW memory", 2, "内存", "每个参数16字节：BF16权重2、梯度2、FP32主权重4、两个矩8"),
    ("梯度累积", "gradient accumulation", 2, "训练", "累积k步等价于batch放大k倍，显存只按micro-batch算"),
    ("Pre-Norm", "pre-norm residual", 3, "架构", "把LayerNorm放进残差分支前面，深层训练不再需要长预热"),
    ("RMSNorm", "RMSNorm", 3, "架构", "去掉均值中心化，只按均方根缩放，少一次归约"),
    ("RoPE旋转位置编码", "rotary position embedding", 3, "架构", "把位置编码成旋转角，注意力分数只依赖相对位置"),
    ("SwiGLU", "SwiGLU", 3, "架构", "门控FFN的隐藏维取8/3倍d_model，参数量与普通FFN持平"),
    ("多头注意力", "multi-head attention", 3, "注意力", "注意力的FLOPs随序列长度平方增长，短序列时FFN占大头"),
    ("GQA分组查询注意力", "grouped-query attention", 3, "注意力", "8个KV头服务32个查询头，KV缓存缩到四分之一"),
    ("专家路由", "expert routing", 4, "MoE", "top-2路由让每个token只激活两个专家，计算量与稠密小模型相当"),
    ("负载均衡损失", "load balancing loss", 4, "MoE", "辅助损失惩罚专家间token分布不均，系数一般取0.01"),
    ("专家并行", "expert parallelism", 4, "MoE", "专家分散到不同卡上，all-to-all通信成为新瓶颈"),
    ("GPU内存层次", "GPU memory hierarchy", 5, "GPU", "寄存器、共享内存、L2、HBM，越往外带宽越低容量越大"),
    ("Roofline模型", "roofline model", 5, "GPU", "算术强度低于脊点时吞吐受带宽限制，高于脊点才受算力限制"),
    ("Tensor Core", "tensor cores", 5, "GPU", "矩阵维度是8或16的倍数时才能吃满Tensor Core"),
    ("算术强度", "arithmetic intensity", 5, "GPU", "逐元素操作每字节不到1次运算，注定是带宽瓶颈"),
    ("Triton分块", "Triton tiling", 6, "kernel", "一个program处理一个tile，块大小决定共享内存占用和并行度"),
    ("kernel融合", "kernel fusion", 6, "kernel", "把GELU和bias融合进matmul尾部，省掉两次HBM往返"),
    ("FlashAttention", "FlashAttention", 6, "注意力", "分块计算注意力，不把N×N矩阵写回HBM，IO从平方降到线性"),
    ("online softmax", "online softmax", 6, "kernel", "边读边维护最大值和归一化因子，一遍扫描得到softmax"),
    ("数据并行DDP", "distributed data parallel", 7, "并行", "每步all-reduce梯度，通信量约为参数字节数的两倍"),
    ("ZeRO分片", "ZeRO sharding", 7, "并行", "ZeRO-3把参数、梯度、优化器状态都切成N份，显存按卡数线性下降"),
    ("张量并行", "tensor parallelism", 8, "并行", "按列切第一个矩阵、按行切第二个，每层只需两次all-reduce"),
    ("流水线并行", "pipeline parallelism", 8, "并行", "气泡比例约为(p-1)/(m+p-1)，micro-batch越多气泡越小"),
    ("all-reduce通信", "ring all-reduce", 7, "并行", "环形all-reduce每张卡收发约2(N-1)/N倍的数据量"),
    ("序列并行", "sequence parallelism", 8, "并行", "把LayerNorm和dropout的激活按序列维切开，补上张量并行的空隙"),
    ("Chinchilla最优配比", "Chinchilla optimal", 9, "scaling", "计算最优时每个参数约配20个训练token"),
    ("幂律拟合", "power-law fit", 9, "scaling", "损失对计算量取对数后近似一条直线，外推前先看残差"),
    ("muP超参迁移", "muP transfer", 11, "scaling", "按宽度缩放初始化和学习率，小模型上调好的超参可以直接迁移"),
    ("学习率预热", "learning rate warmup", 11, "训练", "预热步数取总步数的1%到2%，太短会在早期发散"),
    ("KV缓存", "KV cache", 10, "推理", "每token字节数等于2×层数×KV头数×d_head×每元素字节"),
    ("投机解码", "speculative decoding", 10, "推理", "小模型先猜k个token，大模型一次验证，接受率决定加速比"),
    ("连续批处理", "continuous batching", 10, "推理", "请求结束立即换入新请求，GPU不再等最长的那条序列"),
    ("权重量化", "weight-only quantization", 10, "量化", "int4权重只量化存储，计算前反量化回BF16，省的是带宽"),
    ("PagedAttention", "PagedAttention", 10, "推理", "KV缓存按页分配，碎片从约60%降到4%以内"),
    ("困惑度", "perplexity", 12, "评估", "困惑度是平均负对数似然的指数，换了分词器就不能直接比较"),
    ("基准污染", "benchmark contamination", 12, "评估", "训练集里出现测试题的n-gram，分数会虚高"),
    ("MinHash去重", "MinHash deduplication", 13, "数据", "用MinHash近似Jaccard相似度，阈值0.8时能去掉大部分近重复网页"),
    ("质量过滤分类器", "quality classifier", 14, "数据", "用参考语料训练一个fastText分类器给网页打分，再按分数截断"),
    ("网页正文抽取", "HTML text extraction", 13, "数据", "Common Crawl的WET文本噪声大，从WARC重新抽正文质量更好"),
    ("数据配比", "data mixture", 14, "数据", "代码和数学数据上采样两到三倍，对推理类评测帮助明显"),
    ("监督微调SFT", "supervised fine-tuning", 15, "对齐", "SFT只在回答部分计算损失，提示部分的token要屏蔽"),
    ("奖励模型", "reward model", 15, "对齐", "奖励模型用Bradley-Terry损失学习成对偏好"),
    ("DPO", "direct preference optimization", 15, "对齐", "DPO把KL约束下的最优策略代回损失，不再需要单独的奖励模型"),
    ("PPO裁剪", "PPO clipping", 16, "强化学习", "重要性比率裁剪在1±0.2之间，防止一步更新走太远"),
    ("GRPO", "group relative policy optimization", 17, "强化学习",
     "同一提示采样一组回答，用组内均值做基线，省掉价值网络"),
    ("可验证奖励", "verifiable rewards", 17, "强化学习", "数学题和代码题可以用判题器直接给奖励，避开奖励模型被钻空子"),
]

ASPECTS = ["的内存账", "的通信开销", "的数值稳定性", "的实现细节", "与替代方案对比", "在长上下文下的表现",
           "的瓶颈定位", "的超参敏感性", "的工程取舍", "的常见误区", "的复杂度推导", "的实测与理论对账"]
ANGLES = ["先算账再优化", "瓶颈在带宽而非算力", "一个容易漏掉的系数", "规模变大后的变化", "实测与估算的差距",
          "工程上的默认选择", "数值稳定性从哪里来", "最小实现的要点", "调参时先看什么", "论文数字复算",
          "一个反直觉的结论", "用内存换速度", "通信与计算重叠", "在小模型上验证", "一次失败的复盘",
          "一句话总结", "和课程作业的关联", "边界条件", "量纲检查", "和前面讲座的呼应"]
MODELS = ["GPT-2 small", "Llama-2-7B", "Llama-3-8B", "Mixtral-8x7B", "一个125M的练习模型", "Qwen2-1.5B"]
GPUS = ["A100 80GB", "H100 SXM", "RTX 4090", "两张A10"]
TODO_VERBS = ["实测", "推导", "复现", "对比", "画图比较", "写脚本验证", "读源码弄清", "估算"]
TODO_OBJECTS = ["在{model}上的显存峰值", "在{gpu}上的吞吐", "随序列长度的变化曲线", "开关前后的每步耗时",
                "和理论公式的误差", "在不同batch下的表现", "的最小可运行实现", "对最终损失的影响"]
TODO_TOPICS = {"分词": "分词与数据", "数据": "分词与数据", "推理": "推理与量化", "量化": "推理与量化"}
LECTURE_NAMES = {1: "Overview & Tokenization", 2: "PyTorch & Resource Accounting", 3: "Transformer Architecture",
                 4: "Mixture of Experts", 5: "GPUs", 6: "Kernels & Triton", 7: "Parallelism (1)",
                 8: "Parallelism (2)", 9: "Scaling Laws (1)", 10: "Inference", 11: "Scaling Laws (2)",
                 12: "Evaluation", 13: "Data (1)", 14: "Data (2)", 15: "Alignment: SFT & RLHF",
                 16: "Alignment: RL (1)", 17: "Alignment: RL (2)"}


@dataclass
class Insight:
    title: str
    body: str
    tags: list[str]
    lecture: str


@dataclass
class Discussion:
    topic: str
    question: str
    thinking: str
    details: str
    methodology: str
    practice: str
    tags: list[str]
    lecture: str
    summary: str = ""


class Semester:
    """Realistic, varied study records, the same for the same seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.titles: set[str] = set()
        self.topics: set[str] = set()
        self.todos: set[str] = set()
        self.recorded: list[str] = []
        self.counter = 0

    def learn(self, root: Path) -> Semester:
        """Take the insight titles, discussion topics and TODO items already in `root` as used."""
        self.titles.update(insight_titles(root))
        folder = root / DISCUSSIONS
        if folder.is_dir():
            stems = [p.stem for p in folder.glob("*.md") if p.name != "README.md"]
            self.topics.update(stems)
            self.topics.update(s.removesuffix("深度讨论") for s in stems)
        self.todos.update(m.strip() for m in re.findall(r"^\s*[-*] \[[ xX]\] (.+)$", _read(root, TODO_DOC), re.M))
        return self

    def _concept(self) -> tuple[str, str, int, str, str]:
        return self.rng.choice(CONCEPTS)

    def _num(self) -> str:
        return self.rng.choice(["1.8", "2.4", "3.1", "4", "6.5", "12", "16", "24", "37", "64", "112", "140"])

    def insight(self) -> Insight:
        for _ in range(50):
            name, english, lecture, tag, fact = self._concept()
            angle = self.rng.choice(ANGLES)
            title = f"{name}：{angle}"
            if title not in self.titles:
                break
        else:
            title = ""
        while not title or title in self.titles:
            self.counter += 1
            title = f"{name}：{angle}（第{self.counter}次复盘）"
        self.titles.add(title)
        other = self.rng.choice(CONCEPTS)[0]
        lines = [
            f"- **结论**: {fact}",
            f"- **数字**: 在{self.rng.choice(MODELS)}上复算约为{self._num()}，和{english}原文给出的量级一致",
            f"- **联系**: 和{other}放在一起看，都是在计算、内存和通信之间做交换",
            f"- **做法**: 先写不到50行的最小实现，在{self.rng.choice(GPUS)}上跑出数字再下结论",
        ]
        body = "\n".join([lines[0], *self.rng.sample(lines[1:], self.rng.randint(1, 3))])
        return Insight(title, body, [tag, english.split()[0]], f"Lecture {lecture:02d}")

    def discussion(self) -> Discussion:
        for _ in range(100):
            name, english, lecture, tag, fact = self._concept()
            topic = f"{name}{self.rng.choice(ASPECTS)}"
            if topic not in self.topics:
                break
        else:
            topic = ""
        while not topic or topic in self.topics:
            self.counter += 1
            topic = f"{name}专题{self.counter}"
        self.topics.add(topic)
        self.recorded.append(topic)
        model, gpu, num = self.rng.choice(MODELS), self.rng.choice(GPUS), self._num()
        other = self.rng.choice(CONCEPTS)[0]
        return Discussion(
            topic=topic,
            question=(f"引导问题：“{topic}到底由哪些量决定？放到{model}和{gpu}上是多少？”\n\n"
                      f"学习者最初的回答：只考虑了主项，估出来约{num}，没有区分训练和推理两种情形。"),
            thinking=(f"1. **先列出所有项**：最初只算了主项，漏掉了和{other}相关的那一部分。\n"
                      f"2. **单位统一**：把GB和GiB、每token和每序列分清，误差从两成降到几个百分点。\n"
                      f"3. **和论文对照**：{english}原文的数字和复算一致之后，才确认理解是对的。\n"
                      f"4. **换个规模再算一遍**：模型放大十倍时，瓶颈从算力移到了带宽。"),
            details=(f"{fact}。\n\n"
                     f"| 情形 | 估算 | 实测 |\n|---|---|---|\n| {model} | {num} | {self._num()} |\n"
                     f"| 放大10倍 | {self._num()} | 未测 |\n\n"
                     f"```python\n# {english}: 估算与实测对账\n"
                     f"def estimate(n_params, n_tokens, bytes_per_elem=2):\n"
                     f"    return 6 * n_params * n_tokens, 16 * n_params * bytes_per_elem // 2\n```"),
            methodology=(f"- 先把总量拆成几项再逐项估算，最后和实测对账\n"
                         f"- 每个结论都换一个规模再验证一次，看瓶颈是否移动\n"
                         f"- 遇到和{other}相似的结构，直接复用这次的拆分方式"),
            practice=(f"- 在{gpu}上先用小配置跑通，再按比例外推\n"
                      f"- 记录每次实验的配置和数字，方便以后回头对照\n"
                      f"- {name}相关的改动先测显存和每步耗时两个数"),
            tags=[tag, english.split()[0], "深度讨论"],
            lecture=f"Lecture {lecture:02d}",
            summary=f"{topic}：先拆项再和实测对账，{model}上约{num}",
        )

    def revisit(self) -> Discussion:
        """A new round on a topic already recorded (the server appends a dated round)."""
        again = self.discussion()
        self.topics.discard(again.topic)
        self.recorded.pop()
        again.topic = self.rng.choice(self.recorded) if self.recorded else again.topic
        again.summary = ""
        return again

    def todo(self) -> tuple[str, str]:
        for _ in range(100):
            name, english, _lecture, tag, _fact = self._concept()
            obj = self.rng.choice(TODO_OBJECTS).format(model=self.rng.choice(MODELS), gpu=self.rng.choice(GPUS))
            item = f"{self.rng.choice(TODO_VERBS)}{name}{obj}（{english}）"
            if item not in self.todos:
                break
        else:
            item = ""
        while not item or item in self.todos:
            self.counter += 1
            item = f"整理{name}相关实验第{self.counter}批"
        self.todos.add(item)
        return item, TODO_TOPICS.get(tag, "内存与性能" if tag in ("内存", "资源账务", "GPU", "kernel") else "其他方向")

    def next_steps(self, next_lecture: tuple[int, str] | None, done: int) -> str:
        name = self.rng.choice(CONCEPTS)[0]
        if next_lecture:
            number, topic = next_lecture
            first = f"开始Lecture {number:02d}: {topic}，先把{name}的核心公式推一遍"
        else:
            first = "17讲已全部完成，回头把深度讨论串成一张知识图"
        return (f"### 短期目标（本周）\n1. {first}\n2. 清理深度探索TODO里已经过时的条目\n"
                f"3. 把本周的新结论补进重要技术洞察记录\n\n"
                f"### 中期目标（本月）\n1. {'按计划推进下一阶段' if done < 17 else '把作业补完'}\n"
                f"2. 为{self.rng.choice(CONCEPTS)[0]}写一个能复现论文数字的脚本\n\n"
                f"### 长期目标（课程结束）\n1. 能从tokenizer到对齐完整复现一个小型语言模型流水线\n"
                f"2. 形成先算账、再设计的系统工程习惯")

    def lecture_note(self, number: int) -> str:
        topic = LECTURE_NAMES.get(number, f"Lecture {number}")
        related = [c for c in CONCEPTS if c[2] == number] or [self.rng.choice(CONCEPTS)]
        bullets = "\n".join(f"- **{c[0]}** ({c[1]}): {c[4]}" for c in related)
        return (f"# Lecture {number:02d}: {topic} 理论概念\n\n## 这一讲要回答的问题\n\n"
                f"这一部件为什么存在、代价是什么、放到真实集群上会怎样。\n\n## 核心概念\n\n{bullets}\n\n"
                f"## 心得\n\n所有结论都落到了数字上：FLOPs、字节数和带宽能手算的都手算了一遍。\n")


# ---------------------------------------------------------------------------------------------------------
# The truth, read from the files (read only).


@dataclass
class Truth:
    discussions: int
    insights: int
    todos: int
    todos_done: int
    lectures_done: int
    lectures_total: int
    summary_done: int | None
    working_done: int | None  # the working memory's 当前进度状态 figure (已完成讲座 T/17)
    next_lecture: tuple[int, str] | None
    newest_insight: str | None
    rule_markers_on_disk: int


def _read(root: Path, rel: str) -> str:
    path = root / rel
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _section(text: str, title: str) -> str:
    """The body of the `## ...title` section, headings inside code blocks ignored."""
    lines, inside, fence, out = text.splitlines(), False, False, []
    for line in lines:
        if line.lstrip().startswith("```"):
            fence = not fence
        if not fence and line.startswith("## "):
            inside = title in line
            continue
        if inside:
            out.append(line)
    return "\n".join(out)


_ROW = re.compile(r"^\|\s*Lecture\s*(\d+)\s*\|\s*([^|]*?)\s*\|[^|]*\|\s*([^|]*?)\s*\|", re.M)
_SUMMARY = re.compile(r"(\*\*已完成讲座\*\*:\s*)(\d+)/(\d+)(\s*\(([\d.]+)%\))?")


def insight_titles(root: Path) -> list[str]:
    """The `###` titles under 重要技术洞察记录, in file order."""
    fence, titles = False, []
    for line in _section(_read(root, WORKING), "重要技术洞察记录").splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        elif not fence and line.startswith("### "):
            titles.append(line[4:].strip())
    return titles


def read_truth(root: Path) -> Truth:
    progress = _read(root, PROGRESS)
    rows = [(int(m.group(1)), m.group(2), "✅" in m.group(3)) for m in _ROW.finditer(progress)]
    summary = _SUMMARY.search(progress)
    titles = insight_titles(root)
    todo_lines = re.findall(r"^\s*[-*] \[([ xX])\] ", _read(root, TODO_DOC), re.M)
    folder = root / DISCUSSIONS
    discussions = [p for p in folder.glob("*.md") if p.name != "README.md"] if folder.is_dir() else []
    pending = [(n, topic) for n, topic, done in rows if not done]
    return Truth(
        discussions=len(discussions),
        insights=len(titles),
        todos=len(todo_lines),
        todos_done=sum(1 for mark in todo_lines if mark != " "),
        lectures_done=sum(1 for *_, done in rows if done),
        lectures_total=len(rows),
        summary_done=int(summary.group(2)) if summary else None,
        working_done=int(working.group(2)) if (working := _SUMMARY.search(_read(root, WORKING))) else None,
        next_lecture=pending[0] if pending else None,
        newest_insight=titles[-1] if titles else None,
        rule_markers_on_disk=len(rule_markers(_read(root, WORKING))),
    )


def size_label(t: Truth) -> str:
    return f"D{t.discussions}·I{t.insights}·T{t.todos}·L{t.lectures_done}"


# ---------------------------------------------------------------------------------------------------------
# Lead-fact detectors over the text the model reads.

_PART_NAMES = ("原始问题", "思维过程", "技术细节", "方法论提炼", "实践指导")


def rule_markers(text: str) -> list[str]:
    found = []
    if "苏格拉底" in text:
        found.append("苏格拉底")
    if re.search(r"五段|五个部分|五部分|five[- ]part", text, re.I) or sum(p in text for p in _PART_NAMES) >= 3:
        found.append("五部分")
    if re.search(r"24\s*(小时|h\b|hours)", text, re.I):
        found.append("24小时")
    if "原始问题" in text:
        found.append("原始问题")
    return found


def has_fraction(text: str, done: int, total: int) -> bool:
    return re.search(rf"(?<![\d/]){done}/{total}(?!\d)", text) is not None


def has_next_lecture(text: str, lecture: tuple[int, str]) -> bool:
    number, topic = lecture
    if re.search(rf"Lecture\s*0?{number}(?!\d)", text, re.I):
        return True
    return bool(topic) and topic.lower() in text.lower()


def has_conflict(text: str, table: int, summary: int, total: int) -> bool:
    return any(has_fraction(line, table, total) and has_fraction(line, summary, total) for line in text.splitlines())


# ---------------------------------------------------------------------------------------------------------
# Talking to the server.


@dataclass
class Outcome:
    ok: bool
    ms: float  # wall time from the client: send, the server's work, the reply, the SDK's output-schema check
    text: str
    structured: dict[str, Any] | None
    error: str | None = None
    cpu_ms: float | None = None  # CPU the server process (all its threads) used during the call
    check_ms: float | None = None  # the SDK client's own check of the structured result against the schema


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_ms(pid: int | None) -> float | None:
    """utime + stime of a process so far, in ms (/proc; None elsewhere). Resolution: one clock tick (10 ms)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) * 1000 / _TICK


def child_serving(root: Path) -> int | None:
    """The pid of this process's child whose command line names `root` (the server just started)."""
    me, wanted = str(os.getpid()), os.fsencode(str(root))
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(")", 1)[1].split()[1] != me:
                continue
            if wanted in (stat.parent / "cmdline").read_bytes().split(b"\0"):
                return int(stat.parent.name)
        except (OSError, IndexError, ValueError):
            continue
    return None


def load1() -> float:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")


class Missing(Exception):
    """The server does not offer this tool, or the simulator cannot fill its required arguments."""


@dataclass
class Tools:
    client: Any
    schemas: dict[str, dict[str, Any]]
    dropped: dict[str, set[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    pid: int | None = None
    checked_ms: float = 0.0

    def has(self, name: str) -> bool:
        return name in self.schemas

    async def call(self, name: str, arguments: dict[str, Any]) -> Outcome:
        """Call a tool with the arguments its schema lists (others dropped and remembered), timed from here."""
        if name not in self.schemas:
            raise Missing(f"{name}: not offered by this server")
        schema = self.schemas[name]
        known = schema.get("properties") or {}
        args = {k: v for k, v in arguments.items() if not known or k in known}
        if known and (extra := set(arguments) - set(known)):
            self.dropped.setdefault(name, set()).update(extra)
        if missing := [r for r in schema.get("required", []) if r not in args]:
            raise Missing(f"{name}: needs {', '.join(missing)}, which this simulator does not know how to fill")
        self.checked_ms = 0.0
        cpu = process_cpu_ms(self.pid)
        start = time.perf_counter()
        try:
            result = await self.client.call_tool(name, args)
        except Exception as err:  # a transport or protocol failure: record it, the run goes on
            elapsed = (time.perf_counter() - start) * 1000
            self._remember(name, f"{type(err).__name__}: {err}")
            return Outcome(False, elapsed, "", None, f"{type(err).__name__}: {err}")
        elapsed = (time.perf_counter() - start) * 1000
        after = process_cpu_ms(self.pid)
        used = after - cpu if after is not None and cpu is not None else None
        text = "\n".join(getattr(c, "text", "") for c in result.content if getattr(c, "type", "") == "text")
        if result.is_error:
            self._remember(name, text)
            return Outcome(False, elapsed, text, None, text, used, self.checked_ms)
        return Outcome(True, elapsed, text, result.structured_content, None, used, self.checked_ms)

    def _remember(self, name: str, message: str) -> None:
        if len(self.errors) < 40:
            self.errors.append(f"{name}: {message[:300]}")


def server_env(cache: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(SERVER_SRC), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PROJECT_MEMORY_CACHE_DIR": str(cache), "PYTHONPATH": path}


def snapshot_server(rev: str, target: Path) -> str:
    """Extract the server's code at `rev` (read-only `git archive`), so a run measures one committed version
    while the working tree is being edited. Returns the commit."""
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit, "server", "memory_schema"], cwd=REPO_ROOT,
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return commit


@contextlib.asynccontextmanager
async def serve(root: Path, cache: Path, errlog: Path) -> AsyncIterator[Tools]:
    """A server process on `root`, over stdio, running the code in SERVER_SRC; its stderr goes to `errlog`."""
    from mcp import Client, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "server", "--root", str(root)],
                                   cwd=str(SERVER_SRC), env=server_env(cache))
    with errlog.open("a", encoding="utf-8") as err:
        async with Client(stdio_client(params, errlog=err), read_timeout_seconds=120) as client:
            listed = await client.list_tools()
            schemas = {t.name: dict(t.input_schema or {}) for t in listed.tools}
            tools = Tools(client, schemas, pid=child_serving(root))
            session: Any = getattr(client, "session", None)
            check = getattr(session, "validate_tool_result", None)
            if session is not None and check is not None:
                async def timed_check(name: str, result: Any) -> None:
                    started = time.perf_counter()
                    try:
                        await check(name, result)
                    finally:
                        tools.checked_ms = (time.perf_counter() - started) * 1000

                session.validate_tool_result = timed_check  # the SDK client's own step, timed to tell it apart
            yield tools


async def wait_for_index(tools: Tools, limit_s: float = 300) -> str:
    """Wait until the briefing reports a fresh index (the background build would otherwise share the CPU)."""
    deadline, state = time.monotonic() + limit_s, "unknown"
    if tools.has("search_discussions"):
        await tools.call("search_discussions", {"query": "KV缓存", "limit": 1})
    while time.monotonic() < deadline and tools.has("get_session_context"):
        out = await tools.call("get_session_context", {"max_tokens": 300})
        state = str((out.structured or {}).get("index_state", "unknown"))
        if state in ("fresh", "unknown"):
            break
        await anyio.sleep(0.5)
    return state


# One small function per tool call: adjust here when an argument is renamed.

async def call_append_insight(tools: Tools, item: Insight) -> Outcome:
    return await tools.call("append_insight", {"title": item.title, "body": item.body, "tags": item.tags,
                                               "lecture": item.lecture})


async def call_record_discussion(tools: Tools, d: Discussion) -> Outcome:
    return await tools.call("record_discussion", {
        "topic": d.topic, "question": d.question, "thinking": d.thinking, "details": d.details,
        "methodology": d.methodology, "practice": d.practice, "tags": d.tags, "lecture": d.lecture,
        **({"summary": d.summary} if d.summary else {})})


async def call_update_progress(tools: Tools, lecture: int, status: str | None, note: str | None = None) -> Outcome:
    args: dict[str, Any] = {"lecture": lecture}  # an integer lecture is accepted as well as 'Lecture 03'
    if status:
        args["status"] = status
    if note:
        args["note"] = note
    return await tools.call("update_progress", args)


async def call_add_research_todo(tools: Tools, item: str, topic: str) -> Outcome:
    return await tools.call("add_research_todo", {"item": item, "topic": topic})


async def call_complete_research_todo(tools: Tools, item: str) -> Outcome:
    return await tools.call("complete_research_todo", {"item": item})


async def call_save_lecture_note(tools: Tools, lecture: int, part: str, content: str,
                                 version: str | None = None) -> Outcome:
    args: dict[str, Any] = {"lecture": lecture, "part": part, "content": content}
    if version:
        args["expected_version"] = version
    return await tools.call("save_lecture_note", args)


async def call_read_memory(tools: Tools, handle: str) -> Outcome:
    return await tools.call("read_memory", {"handle": handle})


async def call_update_section(tools: Tools, handle: str, content: str, version: str) -> Outcome:
    return await tools.call("update_section", {"handle": handle, "content": content, "expected_version": version})


async def call_get_session_context(tools: Tools, budget: int) -> Outcome:
    return await tools.call("get_session_context", {"max_tokens": budget})


async def call_search_discussions(tools: Tools, query: str) -> Outcome:
    return await tools.call("search_discussions", {"query": query, "limit": 5})


async def call_list_discussions(tools: Tools, text: str | None = None) -> Outcome:
    return await tools.call("list_discussions", {"offset": 0, "limit": 20, **({"text": text} if text else {})})


async def call_revise_insight(tools: Tools, title: str, body: str, version: str) -> Outcome:
    return await tools.call("revise_insight", {"title": title, "body": body, "expected_version": version})


async def call_undo_last_write(tools: Tools, write_id: str | None = None) -> Outcome:
    return await tools.call("undo_last_write", {"write_id": write_id} if write_id else {})


def write_id_of(out: Outcome | None) -> str | None:
    value = (out.structured or {}).get("write_id") if out and out.ok else None
    return str(value) if value else None


def handle_of(out: Outcome | None) -> str | None:
    value = (out.structured or {}).get("handle") if out and out.ok else None
    return str(value) if value else None


def version_of(out: Outcome) -> str | None:
    if out.structured and out.structured.get("version"):
        return str(out.structured["version"])
    match = re.search(r"version ([0-9a-f]{6,})", out.text)
    return match.group(1) if match else None


async def rewrite_next_steps(tools: Tools, gen: Semester, root: Path) -> tuple[Outcome | None, Outcome | None]:
    """准备: read 下一步计划, then replace it with its version."""
    if not (tools.has("read_memory") and tools.has("update_section")):
        return None, None
    read = await call_read_memory(tools, NEXT_STEPS_HANDLE)
    version = version_of(read)
    if not read.ok or not version:
        return read, None
    truth = read_truth(root)
    return read, await call_update_section(tools, NEXT_STEPS_HANDLE, gen.next_steps(truth.next_lecture,
                                                                                 truth.lectures_done), version)


# ---------------------------------------------------------------------------------------------------------
# Growth.


@dataclass(frozen=True)
class Size:
    label: str
    discussions: int = 0
    insights: int = 0
    todos: int = 0
    lectures: int = 0


def parse_sizes(spec: str) -> list[Size]:
    sizes = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part in ("init", "example"):
            sizes.append(Size(part))
            continue
        numbers = [int(x) for x in part.split("/")]
        if len(numbers) != 4:
            raise argparse.ArgumentTypeError(f"size {part!r}: want init, example or D/I/T/L (e.g. 10/20/10/3)")
        sizes.append(Size(part, *numbers))
    return sizes


@dataclass
class Growth:
    """What growing the memory cost, per tool (ms per call), stage by stage."""

    stage: str
    calls: dict[str, list[float]] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0
    progress_messages: list[str] = field(default_factory=list)  # update_progress answers (the first few)

    def add(self, tool: str, out: Outcome | None) -> None:
        if out is None:
            return
        if tool == "update_progress" and len(self.progress_messages) < 3:
            self.progress_messages.append(str((out.structured or {}).get("message") or out.text)[:300])
        if out.ok:
            self.calls.setdefault(tool, []).append(out.ms)
        else:
            self.errors += 1


def plan_ops(now: Truth, target: Size, rng: random.Random) -> list[str]:
    """The stage's operations, each kind spread evenly over the stage."""
    want = {"discussion": target.discussions - now.discussions, "insight": target.insights - now.insights,
            "todo": target.todos - now.todos, "lecture": min(target.lectures, now.lectures_total) - now.lectures_done}
    placed = []
    for kind, count in want.items():
        for j in range(max(0, count)):
            placed.append(((j + rng.random()) / count, kind))
    return [kind for _, kind in sorted(placed)]


async def grow(tools: Tools, root: Path, gen: Semester, target: Size, growth: Growth,
               at_insights: Callable[[int], Any]) -> None:
    """Grow `root` to `target` through the tools; `at_insights(n)` is awaited whenever n insights exist."""
    now = read_truth(root)
    ops = plan_ops(now, target, gen.rng)
    insights, lecture = now.insights, now.lectures_done
    open_todos: list[str] = []
    started = time.monotonic()
    await at_insights(insights)
    for position, kind in enumerate(ops, 1):
        if kind == "insight" and tools.has("append_insight"):
            out = await call_append_insight(tools, gen.insight())
            growth.add("append_insight", out)
            if out.ok:
                insights += 1
                await at_insights(insights)
        elif kind == "discussion" and tools.has("record_discussion"):
            growth.add("record_discussion", await call_record_discussion(tools, gen.discussion()))
            if gen.rng.random() < 0.1 and gen.recorded:
                growth.add("record_discussion", await call_record_discussion(tools, gen.revisit()))
        elif kind == "todo" and tools.has("add_research_todo"):
            item, topic = gen.todo()
            out = await call_add_research_todo(tools, item, topic)
            growth.add("add_research_todo", out)
            if out.ok:
                open_todos.append(item)
            if len(open_todos) >= 3 and gen.rng.random() < 0.4 and tools.has("complete_research_todo"):
                done = open_todos.pop(gen.rng.randrange(len(open_todos) - 1))
                growth.add("complete_research_todo", await call_complete_research_todo(tools, done))
        elif kind == "lecture" and tools.has("update_progress"):
            next_up = read_truth(root).next_lecture
            if next_up is None:
                continue
            number, topic = next_up
            note = f"完成Lecture {number:02d}：{topic}，理论笔记和代码都已整理"
            growth.add("update_progress", await call_update_progress(tools, number, "done", note))
            if tools.has("save_lecture_note"):
                growth.add("save_lecture_note",
                           await call_save_lecture_note(tools, number, "理论概念", gen.lecture_note(number)))
            lecture += 1
        if position % 25 == 0 or position == len(ops):
            log(f"  [{growth.stage}] {position}/{len(ops)} calls, {time.monotonic() - started:.0f} s, "
                f"insights {insights}, lectures {lecture}")
    read, update = await rewrite_next_steps(tools, gen, root)
    growth.add("read_memory", read)
    growth.add("update_section", update)
    growth.seconds += time.monotonic() - started


# ---------------------------------------------------------------------------------------------------------
# Briefing measurement.


@dataclass
class BriefingRow:
    size: str
    stage: str
    budget: int
    ok: bool
    reported_tokens: int | None
    text_chars: int
    text_tokens: int | None
    over_budget: bool
    omitted: int | None
    call_ms: float
    facts: dict[str, bool | None]
    rules_found: list[str]
    error: str | None = None
    text: str = ""
    omitted_items: int | None = None  # the things left out, summed over the kinds
    omitted_kinds: list[str] = field(default_factory=list)
    included: list[str] = field(default_factory=list)
    parts: dict[str, int] = field(default_factory=dict)  # tokens by part of the text (see `token_parts`)


def token_parts(text: str, estimate: Callable[[str], int] | None) -> dict[str, int]:
    """Where the briefing's tokens go: the lead (everything before the first `## `), each `## ` part, and the
    `Left out:` line, each estimated on its own (so they add up to about the whole)."""
    if estimate is None:
        return {}
    blocks: dict[str, list[str]] = {"lead": []}
    current = "lead"
    for line in text.splitlines():
        if line.startswith("## "):
            current = line[3:].strip()
        elif line.startswith("Left out:"):
            current = "left out"
        blocks.setdefault(current, []).append(line)
    return {name: estimate("\n".join(lines)) for name, lines in blocks.items() if lines}


def estimator() -> Callable[[str], int] | None:
    try:
        use_repo()
        if str(SERVER_SRC) not in sys.path[:1]:
            sys.path.insert(0, str(SERVER_SRC))
        from server.tokens import estimate_tokens
    except ImportError:
        return None
    return estimate_tokens


async def measure_briefing(tools: Tools, root: Path, stage: str, budgets: Sequence[int],
                           conflict: tuple[int, int] | None) -> list[BriefingRow]:
    truth = read_truth(root)
    estimate = estimator()
    rows = []
    for budget in budgets:
        out = await call_get_session_context(tools, budget)
        text = out.text
        s = out.structured or {}
        reported = s.get("estimated_tokens")
        own = estimate(text) if estimate else None
        over = (reported is not None and reported > budget) or (own is not None and own > budget)
        rules = rule_markers(text)
        total = truth.lectures_total or 17
        facts: dict[str, bool | None] = {
            "progress": has_fraction(text, truth.lectures_done, total) if truth.lectures_total else None,
            "next lecture": has_next_lecture(text, truth.next_lecture) if truth.next_lecture else None,
            "conflict": has_conflict(text, conflict[0], conflict[1], total) if conflict else None,
            "rules": len(rules) >= 3 if truth.rule_markers_on_disk >= 3 else None,
            "newest insight": truth.newest_insight in text if truth.newest_insight else None,
        }
        omitted = s.get("omitted")
        kinds = [str(o.get("kind", o)) if isinstance(o, dict) else str(o) for o in omitted or []]
        items = sum(int(o.get("count", 1)) if isinstance(o, dict) else 1 for o in omitted or [])
        rows.append(BriefingRow(size_label(truth), stage, budget, out.ok, reported, len(text), own, over,
                                len(omitted) if isinstance(omitted, list) else None, out.ms, facts, rules,
                                out.error, text, items if isinstance(omitted, list) else None, kinds,
                                [str(x) for x in s.get("included") or []], token_parts(text, estimate)))
    return rows


def make_conflict(root: Path) -> tuple[int, int]:
    """Edit the working memory's 当前进度状态 line (已完成讲座 T/17) on disk so it disagrees with 学习进度.md's table,
    as a hand edit or a stale working memory would; returns (table, working memory)."""
    path = root / WORKING
    text = path.read_text(encoding="utf-8")
    truth = read_truth(root)
    table, total = truth.lectures_done, truth.lectures_total or 17
    wrong = table - 1 if table > 0 else table + 1

    def edit(m: re.Match[str]) -> str:
        percent = f" ({100 * wrong / total:.1f}%)" if m.group(4) else ""
        return f"{m.group(1)}{wrong}/{m.group(3)}{percent}"

    changed, n = _SUMMARY.subn(edit, text, count=1)
    if n != 1:
        raise RuntimeError(f"no 已完成讲座 line in {path}")
    path.write_text(changed, encoding="utf-8")
    return table, wrong


# ---------------------------------------------------------------------------------------------------------
# Write latency, on a fork of the growing memory.


@dataclass
class LatencyPoint:
    size: str
    insights_at_start: int
    samples: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    index_state: str = ""
    first_errors: list[str] = field(default_factory=list)
    cpu: dict[str, list[float]] = field(default_factory=dict)  # server process CPU ms per successful call
    checks: dict[str, list[float]] = field(default_factory=dict)  # the SDK client's schema check, ms per call
    load: list[float] = field(default_factory=list)  # 1-minute load average, sampled each round
    server_pid: int | None = None
    integrity: dict[str, Any] = field(default_factory=dict)  # see `check_writes`

    def add(self, tool: str, out: Outcome) -> None:
        if out.ok:
            self.samples.setdefault(tool, []).append(out.ms)
            if out.cpu_ms is not None:
                self.cpu.setdefault(tool, []).append(out.cpu_ms)
            if out.check_ms is not None:
                self.checks.setdefault(tool, []).append(out.check_ms)
        else:
            self.errors[tool] = self.errors.get(tool, 0) + 1


async def timed(point: LatencyPoint, tool: str, call: Coroutine[Any, Any, Outcome]) -> Outcome | None:
    if tool in point.skipped:
        call.close()
        return None
    try:
        out = await call
    except Missing as err:
        point.skipped[tool] = str(err)
        return None
    point.add(tool, out)
    return out


async def measure_latency(source: Path, work: Path, cache: Path, errlog: Path, gen: Semester, calls: int,
                          gap_s: float) -> LatencyPoint:
    fork = work / f"fork-{read_truth(source).insights}"
    shutil.copytree(source, fork, ignore=shutil.ignore_patterns(".project-memory"))
    truth = read_truth(fork)
    point = LatencyPoint(size_label(truth), truth.insights)
    log(f"  latency at {point.size}: starting a server on a fork, waiting for its index")
    async with serve(fork, cache, errlog) as tools:
        point.index_state = await wait_for_index(tools)
        point.server_pid = tools.pid
        point.load.append(load1())
        for name in (*WRITE_TOOLS, *NEWER_WRITE_TOOLS, *READ_TOOLS):
            if not tools.has(name):
                point.skipped[name] = "not offered by this server"
        note_lecture = truth.next_lecture[0] if truth.next_lecture else 17
        progress_lecture = note_lecture
        statuses = ("in_progress", "not_started") if truth.next_lecture else ("in_progress", "done")
        note_version: str | None = None
        revised_bodies: dict[str, str] = {}
        undone_titles: list[str] = []
        last: dict[str, Any] = {}  # the last successful update_progress status, update_section text, saved note
        queries = [c[0] for c in CONCEPTS]
        for round_no in range(calls):
            insight = gen.insight()
            appended = await timed(point, "append_insight", call_append_insight(tools, insight))
            await anyio.sleep(gap_s)
            discussion = gen.discussion()
            await timed(point, "record_discussion", call_record_discussion(tools, discussion))
            await anyio.sleep(gap_s)
            item, topic = gen.todo()
            await timed(point, "add_research_todo", call_add_research_todo(tools, item, topic))
            await anyio.sleep(gap_s)
            status = statuses[round_no % 2]
            out = await timed(point, "update_progress", call_update_progress(tools, progress_lecture, status))
            if out and out.ok:
                last["progress"] = status
            await anyio.sleep(gap_s)
            content = gen.lecture_note(note_lecture) + f"\n第{round_no + 1}次修订。\n"
            out = await timed(point, "save_lecture_note",
                              call_save_lecture_note(tools, note_lecture, "深度问答", content, note_version))
            note_version = version_of(out) if out and out.ok else note_version
            if out and out.ok and out.structured and out.structured.get("path"):
                last["note"] = (str(out.structured["path"]), content)
            await anyio.sleep(gap_s)
            if "update_section" not in point.skipped and tools.has("read_memory"):
                read = await call_read_memory(tools, NEXT_STEPS_HANDLE)
                version = version_of(read)
                steps = gen.next_steps(read_truth(fork).next_lecture, read_truth(fork).lectures_done)
                if version:
                    out = await timed(point, "update_section",
                                      call_update_section(tools, NEXT_STEPS_HANDLE, steps, version))
                    if out and out.ok:
                        last["section"] = steps
                await anyio.sleep(gap_s)
            elif not tools.has("read_memory"):
                point.skipped["update_section"] = "needs read_memory for the version, which is not offered"
            await timed(point, "complete_research_todo", call_complete_research_todo(tools, item))
            await anyio.sleep(gap_s)
            if "revise_insight" not in point.skipped and tools.has("read_memory") and appended and appended.ok:
                # the model reads the insight (untimed) for its version, then revises it
                read = await call_read_memory(tools, handle_of(appended) or f"{WORKING}#重要技术洞察记录")
                version = version_of(read)
                if version:
                    revised = gen.insight().body
                    out = await timed(point, "revise_insight",
                                      call_revise_insight(tools, insight.title, revised, version))
                    if out and out.ok:
                        revised_bodies[insight.title] = revised
                    await anyio.sleep(gap_s)
            elif not tools.has("read_memory"):
                point.skipped["revise_insight"] = "needs read_memory for the version, which is not offered"
            if "undo_last_write" not in point.skipped and tools.has("append_insight"):
                extra = gen.insight()
                undone = await call_append_insight(tools, extra)  # the write to undo, untimed
                out = await timed(point, "undo_last_write", call_undo_last_write(tools, write_id_of(undone)))
                if out and out.ok:
                    undone_titles.append(extra.title)
                await anyio.sleep(gap_s)
            await timed(point, "get_session_context", call_get_session_context(tools, 1500))
            await timed(point, "read_memory", call_read_memory(tools, NEXT_STEPS_HANDLE))
            query = queries[round_no % len(queries)]
            await timed(point, "search_discussions", call_search_discussions(tools, query))
            await timed(point, "list_discussions",
                        call_list_discussions(tools, query if round_no % 2 else None))
            point.load.append(load1())
            if (round_no + 1) % 5 == 0:
                log(f"  latency at {point.size}: round {round_no + 1}/{calls} (load {point.load[-1]:.2f})")
        point.first_errors = tools.errors[:10]
        await anyio.sleep(3.0)  # past the server's after-write checks of the last writes
        point.integrity = check_writes(fork, revised_bodies, undone_titles)
        point.integrity.update(check_last_writes(fork, progress_lecture, last))
        point.integrity["server_own_writes"] = own_writes(fork, cache, set(tools.schemas))
    shutil.rmtree(fork, ignore_errors=True)
    return point


def insight_bodies(root: Path) -> dict[str, str]:
    """Each insight's text under its `###` title (the last one wins when a title repeats)."""
    bodies: dict[str, str] = {}
    title: str | None = None
    lines: list[str] = []
    for line in [*_section(_read(root, WORKING), "重要技术洞察记录").splitlines(), "### "]:
        if line.startswith("### "):
            if title is not None:
                bodies[title] = "\n".join(lines)
            title, lines = line[4:].strip(), []
        else:
            lines.append(line)
    return bodies


_STATUS_MARKS = {"done": ("✅",), "in_progress": ("🔄", "进行中"), "not_started": ("⬜", "未开始")}


def check_last_writes(fork: Path, lecture: int, last: dict[str, Any]) -> dict[str, Any]:
    """Does the fork still hold what the last update_progress, update_section and save_lecture_note wrote?"""
    found: dict[str, Any] = {}
    squash = re.compile(r"\s+")
    if "progress" in last:
        row = re.search(rf"^\|\s*Lecture\s*0?{lecture}\s*\|.*$", _read(fork, PROGRESS), re.M)
        found["progress_kept"] = row is not None and any(m in row.group(0) for m in _STATUS_MARKS[last["progress"]])
    if "section" in last:
        body = _section(_read(fork, WORKING), "下一步计划")
        found["section_kept"] = squash.sub("", last["section"]) in squash.sub("", body)
    if "note" in last:
        path, content = last["note"]
        found["note_kept"] = squash.sub("", _read(fork, path)) == squash.sub("", content)
    return found


def own_writes(fork: Path, cache: Path, tool_names: set[str]) -> dict[str, int]:
    """The fork's journal entries that no tool call made (the server's own re-applies and merges), by name."""
    done = subprocess.run([sys.executable, "-m", "server", "history", "--root", str(fork), "--limit", "1000",
                           "--json"], cwd=SERVER_SRC, env=server_env(cache), capture_output=True, text=True,
                          check=False)
    try:
        records = json.loads(done.stdout)
    except ValueError:
        return {"history unreadable": 1}
    counts: dict[str, int] = {}
    for record in records:
        name = str(record.get("tool", ""))
        if name not in tool_names and name != "undo":
            counts[name or "?"] = counts.get(name or "?", 0) + 1
    return counts


def check_writes(fork: Path, revised: dict[str, str], undone: list[str]) -> dict[str, Any]:
    """Did the fork keep what the tools said they did? Revised insights hold their new body; undone insights
    stay gone; every title appears once."""
    bodies = insight_bodies(fork)
    titles = insight_titles(fork)
    squash = re.compile(r"\s+")
    lost = [t for t, body in revised.items() if squash.sub("", body) not in squash.sub("", bodies.get(t, ""))]
    back = [t for t in undone if t in bodies]
    twice = sorted({t for t in titles if titles.count(t) > 1})
    return {"revised": len(revised), "revision_lost": lost, "undone": len(undone), "undone_back": back,
            "titles_twice": twice}


# ---------------------------------------------------------------------------------------------------------
# The run.


@dataclass
class Run:
    tools_offered: list[str] = field(default_factory=list)
    briefing: list[BriefingRow] = field(default_factory=list)
    latency: list[LatencyPoint] = field(default_factory=list)
    growth: list[Growth] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)
    conflict_note: str = ""
    notes: list[str] = field(default_factory=list)
    dropped_args: dict[str, list[str]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    server_stderr_lines: int = 0
    server_stderr_warnings: list[str] = field(default_factory=list)  # WARNING/ERROR lines, the first 20
    seconds: float = 0.0


async def simulate(args: argparse.Namespace, work: Path) -> Run:
    run = Run()
    sizes: list[Size] = args.sizes
    budgets: list[int] = args.budgets
    cache, errlog = work / "cache", work / "server-stderr.log"
    cache.mkdir()
    gen = Semester(args.seed)
    grown = [s for s in sizes if s.label not in ("init", "example")]
    conflict_stage = (grown[(len(grown) - 1) // 2].label if grown else None) if args.conflict_at is None else (
        args.conflict_at or None)
    started = time.monotonic()

    if any(s.label == "init" for s in sizes):
        init_root = work / "init"
        done = subprocess.run([sys.executable, "-m", "server", "init", str(init_root), "--preset", "cs336-zh"],
                              cwd=SERVER_SRC, env=server_env(cache), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            run.notes.append(f"`init` failed (exit {done.returncode}): {done.stderr.strip()[:300]}")
        else:
            log("measuring the empty init root")
            async with serve(init_root, cache, errlog) as tools:
                run.tools_offered = sorted(tools.schemas)
                if tools.has("get_session_context"):
                    run.briefing += await measure_briefing(tools, init_root, "init", budgets, None)
                run.stages.append({"stage": "init", **dataclasses.asdict(read_truth(init_root))})

    root = work / "memory"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".project-memory"))
    latency_points = sorted(set(args.latency_at))
    conflict_lectures: int | None = None
    conflict_growth = 0
    measured_at: set[int] = set()

    async with serve(root, cache, errlog) as tools:
        run.tools_offered = sorted(tools.schemas)
        log(f"server offers {len(tools.schemas)} tools: {', '.join(sorted(tools.schemas))}")
        for missing in (t for t in (*WRITE_TOOLS, *READ_TOOLS[:3]) if not tools.has(t)):
            run.notes.append(f"`{missing}` is not offered: its growth or measurement was skipped.")

        async def at_insights(n: int) -> None:
            if n in latency_points and n not in measured_at:
                measured_at.add(n)
                run.latency.append(await measure_latency(root, work, cache, errlog, Semester(args.seed + n).learn(root),
                                                         args.calls, args.gap_ms / 1000))

        for size in sizes:
            if size.label == "init":
                continue
            if size.label != "example":
                growth = Growth(size.label)
                log(f"growing to {size.label} (discussions/insights/TODOs/lectures)")
                await grow(tools, root, gen, size, growth, at_insights)
                run.growth.append(growth)
            truth = read_truth(root)
            conflict = None
            if size.label == conflict_stage:
                await anyio.sleep(2.5)  # past the server's after-write watch of its last write, as a person would be
                conflict = make_conflict(root)
                conflict_lectures = truth.lectures_done
                await anyio.sleep(1.0)  # let the watcher see the person's edit, as it would in real use
                run.conflict_note = (
                    f"At size {size_label(truth)} ({size.label}), the working memory's 当前进度状态 line was edited on "
                    f"disk to 已完成讲座 {conflict[1]}/{truth.lectures_total} while 学习进度.md's table says "
                    f"{conflict[0]}/{truth.lectures_total} (the disagreement the server flags). The conflict fact "
                    "looks for one line of the briefing holding both figures.")
                conflict_growth = len(run.growth)
            stage_truth = read_truth(root)
            run.stages.append({"stage": size.label, **dataclasses.asdict(stage_truth)})
            log(f"measuring the briefing at {size_label(stage_truth)} ({size.label})")
            if tools.has("get_session_context"):
                run.briefing += await measure_briefing(tools, root, size.label, budgets, conflict)
            if conflict:
                run.stages[-1]["conflict"] = list(conflict)
            await at_insights(stage_truth.insights)
        beyond = [n for n in latency_points if n not in measured_at and n > read_truth(root).insights]
        if beyond:
            now = read_truth(root)
            target = Size(f"I{beyond[-1]}", now.discussions, beyond[-1], now.todos, now.lectures_done)
            growth = Growth(f"insights to {beyond[-1]}")
            log(f"growing insights to {beyond[-1]} for the latency points {beyond}")
            await grow(tools, root, gen, target, growth, at_insights)
            run.growth.append(growth)
        after = read_truth(root)
        if run.conflict_note and conflict_lectures is not None:
            later = after.lectures_done - conflict_lectures
            state = "agree again" if after.working_done == after.lectures_done else "still disagree"
            first = next((m for g in run.growth[conflict_growth:] for m in g.progress_messages), None)
            run.conflict_note += (
                f" {later} lectures were then marked done through update_progress; "
                + (f"the first of those answered “{first}”; " if first else "")
                + f"at the end the working memory says {after.working_done}/{after.lectures_total}, 学习进度.md's "
                f"table {after.lectures_done}/{after.lectures_total} (they {state}) and its summary line "
                f"{after.summary_done}/{after.lectures_total}.")
        run.dropped_args = {k: sorted(v) for k, v in tools.dropped.items()}
        run.errors = tools.errors
    for n in latency_points:
        if n not in measured_at:
            run.notes.append(f"latency at {n} insights was not measured (the memory never held exactly {n}).")
    stderr = errlog.read_text(encoding="utf-8", errors="replace").splitlines() if errlog.exists() else []
    run.server_stderr_lines = len(stderr)
    run.server_stderr_warnings = [line[:300] for line in stderr
                                  if re.search(r"WARNING|ERROR|Traceback|Exception", line)][:20]
    run.seconds = time.monotonic() - started
    return run


# ---------------------------------------------------------------------------------------------------------
# Report.

FACTS = ("progress", "next lecture", "conflict", "rules", "newest insight")


def mark(value: bool | None) -> str:
    return "–" if value is None else "✓" if value else "**✗**"


def failures(run: Run) -> list[str]:
    found = []
    for row in run.briefing:
        where = f"{row.size} ({row.stage}) at {row.budget}"
        if not row.ok:
            found.append(f"briefing failed {where}: {row.error}")
            continue
        if row.over_budget:
            found.append(f"over budget {where}: {row.reported_tokens} reported, {row.text_tokens} estimated")
        for fact in ("progress", "next lecture", "conflict", "newest insight"):
            if row.facts.get(fact) is False:
                found.append(f"{fact} missing {where}")
        if row.budget >= RULES_FROM_BUDGET and row.facts.get("rules") is False:
            found.append(f"rules missing {where}")
    for point in run.latency:
        for tool in (*WRITE_TOOLS, *NEWER_WRITE_TOOLS):
            values = point.samples.get(tool)
            if values and percentile(values, 95) > TARGET_P95_MS:
                found.append(f"{tool} p95 {percentile(values, 95):.0f} ms > {TARGET_P95_MS:.0f} ms at {point.size}")
            if point.errors.get(tool):
                found.append(f"{tool}: {point.errors[tool]} failed calls at {point.size}")
        for key, what in (("revision_lost", "revised insights lost their new body"),
                          ("undone_back", "undone insights came back"), ("titles_twice", "titles appear twice")):
            if point.integrity.get(key):
                found.append(f"{what} at {point.size}: {len(point.integrity[key])}")
        for key, what in (("progress_kept", "the last update_progress"), ("section_kept", "the last update_section"),
                          ("note_kept", "the last save_lecture_note")):
            if point.integrity.get(key) is False:
                found.append(f"{what} is not on disk at {point.size}")
    return found


def _kept(value: bool | None) -> str:
    return "not checked" if value is None else "kept" if value else "**not on disk**"


def _own(counts: dict[str, int] | None) -> str:
    return ", ".join(f"{n} `{k}`" for k, n in sorted(counts.items())) if counts else "none"


def _p50(values: list[float] | None) -> str:
    return f"{percentile(values, 50):.1f}" if values else "–"


def _load(point: LatencyPoint) -> str:
    return f"{min(point.load):.2f}–{max(point.load):.2f}" if point.load else "–"


def token_table(run: Run) -> list[str]:
    """Where the tokens go at the largest grown size, budget by budget."""
    rows = [r for r in run.briefing if r.ok and r.parts]
    if not rows:
        return []
    last = rows[-1].stage
    rows = [r for r in rows if r.stage == last]
    names: list[str] = []
    for r in rows:
        names += [n for n in r.parts if n not in names]
    lines = [f"Where the tokens go at {rows[0].size} ({last}): the estimator on each part of the text on its own "
             "(lead: title, progress, lectures, flags).", "",
             "| budget | total | " + " | ".join(names) + " |", "|---:|---:|" + "---:|" * len(names)]
    for r in rows:
        lines.append(f"| {r.budget} | {r.text_tokens} | " + " | ".join(str(r.parts.get(n, "")) for n in names) + " |")
    return [*lines, ""]


def _ms(values: list[float] | None) -> str:
    if not values:
        return "–"
    return f"{percentile(values, 50):.0f} / {percentile(values, 95):.0f}"


def render(run: Run, args: argparse.Namespace, facts: str, code: str, fingerprint: str) -> str:
    missed = failures(run)
    lines = [
        "# Semester simulator: the briefing and the write tools as the memory grows",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {facts}  ",
        f"Code: {code}  ",
        f"Seed {args.seed}; budgets {', '.join(map(str, args.budgets))}; {args.calls} calls per tool per latency "
        f"point, {args.gap_ms} ms between calls; whole run {run.seconds / 60:.1f} min.  ",
        f"Tools the server offered ({len(run.tools_offered)}): {', '.join(f'`{t}`' for t in run.tools_offered)}",
        "",
        *(code_changed_note(fingerprint) if fingerprint else []),
        f"**Targets: {'all met' if not missed else f'{len(missed)} missed'}.** No briefing over its budget; "
        "progress, next lecture, conflict and newest insight present at every budget; the working rules at every "
        f"budget ≥ {RULES_FROM_BUDGET}; every write tool p95 ≤ {TARGET_P95_MS:.0f} ms.",
        "",
    ]
    if missed:
        shown = missed[:25]
        lines += [f"- {m}" for m in shown]
        if len(missed) > len(shown):
            lines.append(f"- … and {len(missed) - len(shown)} more (all in the JSON copy)")
        lines.append("")
    lines += [
        "## The briefing by memory size",
        "",
        "Size: D discussion files · I insights · T research TODO items · L lectures done, counted on disk. "
        "Tokens: what the tool reports / the project's estimator on the text the model reads; chars: length of "
        "that text; omitted: kinds of things left out (things, summed). ✓ present, ✗ missing, – not applicable. "
        "Rules: markers found (of 苏格拉底, 五部分, 24小时, 原始问题; 3 needed).",
        "",
        "| size | budget | tokens (reported / text) | chars | over? | omitted | progress | next lecture | conflict "
        "| rules | newest insight | ms |",
        "|---|---:|---:|---:|:-:|---:|:-:|:-:|:-:|:-:|:-:|---:|",
    ]
    for row in run.briefing:
        if not row.ok:
            lines.append(f"| {row.size} ({row.stage}) | {row.budget} | error: {(row.error or '')[:80]} "
                         "| | | | | | | | | |")
            continue
        rules = f"{mark(row.facts['rules'])} {len(row.rules_found)}/4"
        lines.append(
            f"| {row.size} ({row.stage}) | {row.budget} | {row.reported_tokens} / {row.text_tokens} | "
            f"{row.text_chars} | {'**yes**' if row.over_budget else 'no'} | {row.omitted} ({row.omitted_items}) | "
            f"{mark(row.facts['progress'])} | {mark(row.facts['next lecture'])} | {mark(row.facts['conflict'])} | "
            f"{rules} | {mark(row.facts['newest insight'])} | {row.call_ms:.0f} |")
    lines += ["", run.conflict_note or "No progress conflict was created in this run.", ""]
    lines += token_table(run)

    tools = [t for t in (*WRITE_TOOLS, *NEWER_WRITE_TOOLS)]
    lines += [
        "## Write-tool latency",
        "",
        "p50 / p95 ms per call, timed from the client over stdio, on a fork of the growing memory served by a "
        "fresh server whose index had finished building. Target p95 ≤ 150 ms. n = successful calls.",
        "",
        "| tool | " + " | ".join(p.size for p in run.latency) + " | target |",
        "|---|" + "---:|" * len(run.latency) + ":-:|",
    ]
    for tool in tools:
        cells, worst, measured = [], 0.0, False
        for p in run.latency:
            if tool in p.skipped:
                cells.append("skipped")
                continue
            values = p.samples.get(tool, [])
            errors = f", {p.errors[tool]} errors" if p.errors.get(tool) else ""
            cells.append(f"{_ms(values)} (n {len(values)}{errors})")
            if values:
                measured = True
                worst = max(worst, percentile(values, 95))
        verdict = "–" if not measured else "pass" if worst <= TARGET_P95_MS else "**FAIL**"
        lines.append(f"| `{tool}` | " + " | ".join(cells) + f" | {verdict} |")
    lines += ["", "Read tools in the same rounds (no target): get_session_context at 1500 tokens, read_memory of "
              "下一步计划, search_discussions of a topic name (limit 5).", "",
              "| tool | " + " | ".join(p.size for p in run.latency) + " |",
              "|---|" + "---:|" * len(run.latency)]
    for tool in READ_TOOLS:
        lines.append(f"| `{tool}` | " + " | ".join(
            "skipped" if tool in p.skipped else f"{_ms(p.samples.get(tool))} (n {len(p.samples.get(tool, []))})"
            for p in run.latency) + " |")
    skipped = sorted({f"`{t}`: {why}" for p in run.latency for t, why in p.skipped.items()})
    if skipped:
        lines += ["", "Skipped: " + "; ".join(skipped) + "."]
    lines += ["", f"Index state when timing began: {', '.join(f'{p.size} {p.index_state}' for p in run.latency)}.", ""]
    lines += ["What the forks held 3 s after their last write: " + "; ".join(
        f"{p.size}: {len(p.integrity.get('revision_lost', []))} of {p.integrity.get('revised', 0)} revised insights "
        f"without their new body, {len(p.integrity.get('undone_back', []))} of {p.integrity.get('undone', 0)} undone "
        f"insights back, {len(p.integrity.get('titles_twice', []))} titles twice; the last update_progress "
        f"{_kept(p.integrity.get('progress_kept'))}, update_section {_kept(p.integrity.get('section_kept'))}, "
        f"save_lecture_note {_kept(p.integrity.get('note_kept'))}; journal entries no tool made: "
        f"{_own(p.integrity.get('server_own_writes'))}" for p in run.latency) + ".", ""]
    lines += ["Server CPU per call (p50 / p95 ms of the server process's utime + stime, all its threads, during the "
              "call; 10 ms ticks) and the SDK client's own output-schema check (p50 ms), both included in the wall "
              "times above; the 1-minute load average over each point's rounds (min–max).", "",
              "| tool | " + " | ".join(f"{p.size} CPU / check" for p in run.latency) + " |",
              "|---|" + "---:|" * len(run.latency)]
    for tool in (*WRITE_TOOLS, *NEWER_WRITE_TOOLS, *READ_TOOLS):
        lines.append(f"| `{tool}` | " + " | ".join(
            f"{_ms(p.cpu.get(tool))} / {_p50(p.checks.get(tool))}" for p in run.latency) + " |")
    lines.append("| load (1 min) | " + " | ".join(_load(p) for p in run.latency) + " |")
    lines.append("")

    lines += ["## Growing the memory (the same tools, while it grew; no target)", "",
              "| stage | seconds | errors | " + " | ".join(f"`{t}` p50 / p95 (n)" for t in WRITE_TOOLS) + " |",
              "|---|---:|---:|" + "---:|" * len(WRITE_TOOLS)]
    for g in run.growth:
        lines.append(f"| {g.stage} | {g.seconds:.0f} | {g.errors} | " + " | ".join(
            f"{_ms(g.calls.get(t))} ({len(g.calls.get(t, []))})" for t in WRITE_TOOLS) + " |")
    lines.append("")
    extra = list(run.notes)
    if run.dropped_args:
        extra.append("Arguments dropped because the tool's schema does not list them: " + "; ".join(
            f"`{t}`: {', '.join(a)}" for t, a in run.dropped_args.items()))
    if run.errors:
        extra.append("Tool errors seen (first ones): " + " | ".join(e.replace("\n", " ")[:200] for e in run.errors[:8]))
    extra.append(f"Server stderr: {run.server_stderr_lines} lines, {len(run.server_stderr_warnings)} of them "
                 "warnings or errors (the first ones in the JSON copy).")
    lines += ["## Notes", "", *[f"- {e}" for e in extra], ""]
    return "\n".join(lines)


def section(run: Run, args: argparse.Namespace, facts: str, code: str) -> str:
    """The ready-to-paste BENCHMARKS.md section: the command, the two tables, a reading to edit."""
    missed = failures(run)
    lines = [
        "## Semester scale",
        "",
        "A copy of `examples/cs336` grown through the MCP tools themselves (the mcp SDK's stdio client against "
        "`python -m server --root COPY`): deep discussions, insights, research TODOs (some ticked), lectures "
        "marked done with a note each, 下一步计划 rewritten at each stage; then the session briefing at each budget, "
        "and every write tool timed on a fork of the memory at three sizes (issue 11).",
        "",
        "```bash",
        command_line(),
        "```",
        "",
        f"{facts}. {code}. Seed {args.seed}, {args.calls} timed calls per tool per size; whole run "
        f"{run.seconds / 60:.0f} min. Full tables: `bench/results/{args.name}.md` and `.json`.",
        "",
        "**The briefing by memory size.** D discussion files · I insights · T research TODOs · L lectures done, "
        "counted on disk. Tokens: the tool's own estimate (the project's estimator on the text agrees). ✓ present, "
        "✗ missing, – not applicable (no conflict at that size; no insight in an empty memory). Rules: 3 of the 4 "
        "markers of the person's rules (苏格拉底, the five parts, 24小时, 原始问题); due from "
        f"{RULES_FROM_BUDGET} tokens.",
        "",
        "| size | budget | tokens | progress | next lecture | conflict | rules | newest insight |",
        "|---|---:|---:|:-:|:-:|:-:|:-:|:-:|",
    ]
    for row in run.briefing:
        if not row.ok:
            lines.append(f"| {row.size} | {row.budget} | error | | | | | |")
            continue
        over = " **over**" if row.over_budget else ""
        rules = mark(row.facts["rules"])
        if row.facts["rules"] is False and row.budget < RULES_FROM_BUDGET:
            rules = "✗ (not due)"
        lines.append(f"| {row.size} | {row.budget} | {row.reported_tokens}{over} | {mark(row.facts['progress'])} | "
                     f"{mark(row.facts['next lecture'])} | {mark(row.facts['conflict'])} | "
                     f"{rules} | {mark(row.facts['newest insight'])} |")
    lines += [
        "",
        "**Write latency** (ms, p50 / p95 over the calls, wall time at the client over stdio, on a fork served by a "
        "fresh server whose index had finished building; target p95 ≤ 150), and in brackets the server process's "
        "CPU ms per call, p50 / p95 (all its threads, 10 ms ticks). Load: the 1-minute load average over the "
        "rounds, on 2 cores shared with other work.",
        "",
        "| tool | " + " | ".join(p.size for p in run.latency) + " |",
        "|---|" + "---:|" * len(run.latency),
    ]
    for tool in (*WRITE_TOOLS, *NEWER_WRITE_TOOLS):
        cells = []
        for p in run.latency:
            values = p.samples.get(tool)
            p95 = percentile(values, 95) if values else None
            cell = _ms(values) if values else "–"
            if p95 is not None and p95 > TARGET_P95_MS:
                cell = f"**{cell}**"
            if p.cpu.get(tool):
                cell += f" ({_ms(p.cpu[tool])})"
            if p.errors.get(tool):
                cell += f" ({p.errors[tool]} failed)"
            cells.append(cell)
        lines.append(f"| `{tool}` | " + " | ".join(cells) + " |")
    lines.append("| load (1 min) | " + " | ".join(_load(p) for p in run.latency) + " |")
    lines += ["", "**Did the writes stay written?** Each fork read back 3 s after its last call: " + "; ".join(
        f"{p.size}: {len(p.integrity.get('undone_back', []))} of {p.integrity.get('undone', 0)} undone insights back, "
        f"{len(p.integrity.get('revision_lost', []))} of {p.integrity.get('revised', 0)} revisions lost, "
        f"{sum(p.errors.values())} calls refused, journal entries no tool made: "
        f"{_own(p.integrity.get('server_own_writes'))}" for p in run.latency) + "."]
    lines += ["", "Targets: all met." if not missed else f"Targets: {len(missed)} missed: {'; '.join(missed)}.", ""]
    return "\n".join(lines)


def to_json(run: Run, args: argparse.Namespace, facts: str, code: str) -> dict[str, Any]:
    data = dataclasses.asdict(run)
    data["command"] = command_line()
    data["machine"] = facts
    data["code"] = code
    data["arguments"] = {k: (v if not isinstance(v, list) or not v or not isinstance(v[0], Size)
                             else [s.label for s in v]) for k, v in vars(args).items()}
    data["targets_missed"] = failures(run)
    data["latency_summary"] = [
        {"size": p.size, **{t: {"p50": percentile(v, 50), "p95": percentile(v, 95), "n": len(v)}
                            for t, v in p.samples.items()}} for p in run.latency]
    return data


def _ints(spec: str) -> list[int]:
    return [int(x) for x in spec.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grow a memory through the MCP tools; measure the briefing "
                                                 "and the write tools at each size.")
    parser.add_argument("--quick", action="store_true", help=f"smaller sizes ({QUICK_SIZES}) and latency points "
                                                            f"({QUICK_LATENCY}): a few minutes")
    parser.add_argument("--sizes", help=f"init, example and D/I/T/L totals (default {FULL_SIZES})")
    parser.add_argument("--latency-at", help=f"insight counts where write tools are timed (default {FULL_LATENCY})")
    parser.add_argument("--budgets", default=BUDGETS, help=f"max_tokens values (default {BUDGETS})")
    parser.add_argument("--calls", type=int, default=20, help="timed calls per tool per latency point (default 20)")
    parser.add_argument("--gap-ms", type=int, default=0, help="pause between timed calls (default 0)")
    parser.add_argument("--conflict-at", help="the size label (as in --sizes) where 学习进度.md's summary is made "
                                              "to disagree; 'none' for no conflict (default: the middle grown size)")
    parser.add_argument("--server-at", metavar="REV", help="run the server code of this commit (read with git "
                                                          "archive) instead of the working tree")
    parser.add_argument("--seed", type=int, default=336)
    parser.add_argument("--name", default="semester", help="result file name under bench/results")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and say where it is")
    parser.add_argument("--section", default="/tmp/semester_section.md", metavar="PATH",
                        help="where to write the BENCHMARKS.md section (default /tmp/semester_section.md; '' for none)")
    args = parser.parse_args(argv)
    args.sizes = parse_sizes(args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES))
    args.latency_at = _ints(args.latency_at or (QUICK_LATENCY if args.quick else FULL_LATENCY))
    args.budgets = _ints(args.budgets)
    if args.conflict_at and args.conflict_at.lower() == "none":
        args.conflict_at = ""
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    if args.conflict_at and args.conflict_at not in [s.label for s in args.sizes]:
        parser.error(f"--conflict-at {args.conflict_at!r} is not one of the sizes: {[s.label for s in args.sizes]}")

    global SERVER_SRC
    facts, code, fingerprint = machine_facts(), code_state(), code_fingerprint()
    work = Path(tempfile.mkdtemp(prefix="semester-"))
    try:
        if args.server_at:
            commit = snapshot_server(args.server_at, work / "server-src")
            SERVER_SRC = work / "server-src"
            code = f"server/ and memory_schema/ of commit {commit}, extracted with git archive (the working tree " \
                   "was not measured)"
            fingerprint = ""
        try:
            run = anyio.run(simulate, args, work)
        except Exception as err:  # most often: the server did not start (code being edited); say why, briefly
            errlog = work / "server-stderr.log"
            tail = errlog.read_text(encoding="utf-8").splitlines()[-5:] if errlog.exists() else []
            log(f"the run stopped: {type(err).__name__}: {err}")
            log("last lines of the server's stderr:\n" + "\n".join(tail))
            log("(if the working tree is mid-edit, --server-at HEAD measures the last commit)")
            return 2
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    text = render(run, args, f"{facts}; load average at the end {load}", code, fingerprint)
    path = write_result(args.name, text)
    (RESULTS_DIR / f"{args.name}.json").write_text(
        json.dumps(to_json(run, args, facts, code), ensure_ascii=False, indent=1), encoding="utf-8")
    if args.section:
        Path(args.section).write_text(section(run, args, f"{facts}; load average at the end {load}", code),
                                      encoding="utf-8")
    print(text)
    print(f"written to {path} and {args.name}.json" + (f"; the section to {args.section}" if args.section else ""),
          file=sys.stderr)
    return 1 if failures(run) else 0


if __name__ == "__main__":
    sys.exit(main())
