"""Scaling benchmark: synthetic mixed Chinese/English notes at several sizes; how build, index, queries,
restarts, re-indexing and memory grow, for this code and for the old engine side by side.

The notes are Markdown study notes as a person writes them: a title, `##`/`###` sections, paragraphs, lists
and fenced code. Their words come from a fixed list of ML terms (English and Chinese) and a pseudo-Chinese
vocabulary drawn from common Han characters, both with Zipf-like frequencies, so a few words are everywhere
and most are rare, as in real text. Everything derives from one seed, and note i is the same at every size:
the 2,000-note corpus is the first 2,000 notes of the 5,000-note one.

Per size, and per stack — `after` (this code, index in a temporary $PROJECT_MEMORY_CACHE_DIR) and, up to
`--old-max` notes, `before` (the old checkout, `--old`, default /tmp/oldmain; index in the notes folder's
`.project-memory/`) — each step in a fresh process on that stack's code:
- build: an empty index built from every note (wall and CPU time, peak RSS);
- queries: open the index, one probe (a word in no note), then every query once — its *first time*, nothing
  cached for its terms — then `--rounds` more times (*repeated*); wall and the searching thread's CPU time;
- restart: `--cold-starts` times, the server over stdio (spawn → MCP handshake → first answer) and the engine in
  a new process (spawn → import → open → first query);
- re-index: `--edits` notes, each with a line appended, re-indexed one at a time (`IndexService.update`;
  before: `update_paths`), timed until a search for the new line returns the note; then put back.
Queries are ML terms alone and in pairs: Chinese, English and mixed.

    .venv/bin/python bench/synthetic_corpus.py [--quick] [--sizes 2000,5000,20000] [--rounds 3] [--old PATH]
    .venv/bin/python bench/synthetic_corpus.py --generate-only 500 --out /tmp/notes   # just write notes

Writes the tables to bench/results/synthetic.md.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import anyio
from common import (
    DEFAULT_OLD,
    PROBE_QUERY,
    CodeWatch,
    CorpusSearch,
    QueryTimes,
    Stack,
    code_state,
    command_line,
    emit,
    load_dictionary,
    load_note,
    load_now,
    machine_facts,
    make_memory,
    ms,
    old_checkout,
    open_cold,
    peak_rss_mb,
    plain_note_paths,
    ratio,
    require_index,
    spawn_json,
    spread,
    stacks,
    stdio_cold_start,
    table,
    time_queries,
    use_code,
    verdict,
    write_result,
)

# The targets, at 20,000 notes.
TARGET_NOTES = 20_000
QUERY_P50_S = 0.025
QUERY_P95_S = 0.100
BUILD_S = 400.0
RESTART_S = 2.0
REINDEX_S = 0.050
SCRIPT = Path(__file__).resolve()
LIMIT = 10

SEED = 336
NOTES_PER_FOLDER = 500


def _words(text: str) -> list[str]:
    return text.split()


ML_TERMS_EN = _words(
    """attention transformer tokenizer BPE embedding softmax LayerNorm RMSNorm dropout residual
FlashAttention KV-cache GQA MQA RoPE ALiBi MoE router top-k top-p beam-search perplexity cross-entropy AdamW
SGD warmup cosine-schedule gradient-clipping weight-decay mixed-precision fp16 bf16 fp8 quantization LoRA
QLoRA distillation pruning data-parallelism tensor-parallelism pipeline-parallelism ZeRO FSDP all-reduce
all-gather reduce-scatter NCCL CUDA Triton kernel-fusion roofline arithmetic-intensity HBM SRAM
pin_memory DataLoader torch.compile autograd backward checkpointing scaling-law Chinchilla compute-optimal
speculative-decoding RLHF DPO PPO GRPO reward-model SFT instruction-tuning Common-Crawl deduplication MinHash
fastText classifier perplexity-filter tokenizer-training vocab-size context-length batch-size learning-rate
loss-spike nanoGPT GPT-2 LLaMA Mistral DeepSeek Qwen"""
)

ML_TERMS_ZH = _words(
    """注意力机制 自注意力 多头注意力 位置编码 旋转位置编码 词嵌入 分词器 词表 前馈网络 残差连接 层归一化
激活函数 交叉熵 损失函数 梯度下降 反向传播 学习率 学习率预热 权重衰减 梯度裁剪 混合精度 半精度 量化 蒸馏 剪枝
数据并行 张量并行 流水线并行 流水线气泡 集合通信 显存 内存带宽 算力 计算强度 算子融合 缓存 键值缓存 推理 解码
推测解码 束搜索 采样 温度 困惑度 缩放定律 计算最优 预训练 微调 指令微调 奖励模型 强化学习 偏好优化 对齐
数据清洗 去重 质量过滤 语言识别 混合专家 负载均衡 路由 稀疏 稠密 批大小 上下文长度 检查点 优化器 动量"""
)

# Common Han characters: the pseudo-Chinese vocabulary is drawn from these.
COMMON_HAN = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
    "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把"
    "性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质"
    "气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活"
    "设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则"
    "任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美"
    "再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元"
    "况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委"
)

EN_FILLER = _words(
    """the model uses a layer with this step so we can see why it works when memory is limited and the
batch grows; note that each head computes scores over keys and values, then the output goes through a
projection. in practice training is bound by bandwidth rather than compute for small matrices, which is why
fusing kernels helps. remember to check shapes, dtype and device before launching a long run; a loss that
diverges early usually means the learning rate is too high or the initialization is off. we measured
throughput tokens per second on one GPU and on eight, and compared the result with the estimate from the
formula above"""
)

CODE_LINES = """scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
weights = torch.softmax(scores.masked_fill(mask == 0, float("-inf")), dim=-1)
out = weights @ v
loader = DataLoader(dataset, batch_size=32, pin_memory=True, num_workers=4)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
    loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
scaler.scale(loss).backward()
torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
x = x + self.attn(self.ln_1(x))
x = x + self.mlp(self.ln_2(x))
@triton.jit
def add_kernel(x_ptr, y_ptr, out_ptr, n, BLOCK: tl.constexpr):
    offsets = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
dist.all_reduce(grad, op=dist.ReduceOp.SUM)
model = torch.compile(model, mode="max-autotune")""".splitlines()

HEADINGS_ZH = _words("概述 原理 推导 实现 实验 对比 小结 问题 思考 细节 例子 复杂度 代码 参考")
HEADINGS_EN = _words("Overview Intuition Derivation Implementation Experiments Comparison Summary Questions Pitfalls")


class Vocabulary:
    """Words with Zipf-like frequencies; `pick` draws one."""

    def __init__(self, words: Sequence[str], exponent: float = 1.0) -> None:
        self.words = list(words)
        self._cumulative = list(accumulate(1.0 / (rank + 1) ** exponent for rank in range(len(self.words))))

    def pick(self, rng: random.Random) -> str:
        return rng.choices(self.words, cum_weights=self._cumulative)[0]


def han_vocabulary(seed: int = SEED, size: int = 6000) -> Vocabulary:
    rng = random.Random(seed)
    words: dict[str, None] = {}
    while len(words) < size:
        length = rng.choices((1, 2, 3, 4), weights=(2, 6, 2, 1))[0]
        words["".join(rng.choice(COMMON_HAN) for _ in range(length))] = None
    return Vocabulary(list(words))


@dataclass(frozen=True)
class Vocabularies:
    han: Vocabulary
    filler: Vocabulary
    zh_terms: Vocabulary
    en_terms: Vocabulary

    @classmethod
    def fixed(cls) -> Vocabularies:
        rng = random.Random(SEED + 1)
        zh, en = ML_TERMS_ZH[:], ML_TERMS_EN[:]
        rng.shuffle(zh)  # which terms are common is part of the seed, not the list order
        rng.shuffle(en)
        return cls(han_vocabulary(), Vocabulary(EN_FILLER, 0.5), Vocabulary(zh, 0.8), Vocabulary(en, 0.8))


def _sentence(rng: random.Random, vocab: Vocabularies, topic: list[str], words: int) -> str:
    parts: list[str] = []
    english = rng.random() < 0.15  # some sentences are written in English
    for _ in range(words):
        roll = rng.random()
        if roll < 0.06:
            word = rng.choice(topic)
        elif roll < 0.12:
            word = vocab.zh_terms.pick(rng) if rng.random() < 0.6 else vocab.en_terms.pick(rng)
        elif english or roll < 0.2:
            word = vocab.filler.pick(rng)
        else:
            word = vocab.han.pick(rng)
        parts.append(word)
    text = ""
    for word in parts:  # Chinese runs without spaces, spaces around Latin words
        latin = word[0].isascii()
        text += (" " + word + " ") if latin else word
    return " ".join(text.split()) + ("." if english else "。")


def render_note(index: int, vocab: Vocabularies, seed: int = SEED) -> str:
    """Note `index` of the synthetic corpus: the same text for the same index and seed."""
    rng = random.Random(f"{seed}-{index}")
    topic = [vocab.zh_terms.pick(rng), vocab.en_terms.pick(rng), vocab.zh_terms.pick(rng)]
    target = int(min(20_000, max(1_000, rng.lognormvariate(math.log(3_000), 0.6))))  # UTF-8 bytes
    lines = [f"# {topic[0]} 与 {topic[1]} 笔记" if rng.random() < 0.7 else f"# Notes on {topic[1]}", ""]
    if rng.random() < 0.3:
        lines[:0] = ["---", f"tags: [{topic[1].lower()}, lecture-{index % 17 + 1}]", "---"]
    size = 0
    section = 0
    while size < target:
        section += 1
        level = "###" if section > 1 and rng.random() < 0.3 else "##"
        name = rng.choice(HEADINGS_ZH) if rng.random() < 0.7 else rng.choice(HEADINGS_EN)
        block = [f"{level} {section}. {name}: {rng.choice(topic)}", ""]
        for _ in range(rng.randint(1, 3)):
            block += [" ".join(_sentence(rng, vocab, topic, rng.randint(8, 30)) for _ in range(rng.randint(2, 5))), ""]
        if rng.random() < 0.4:
            block += [f"- {_sentence(rng, vocab, topic, rng.randint(4, 12))}" for _ in range(rng.randint(2, 5))]
            block.append("")
        if rng.random() < 0.25:
            start = rng.randrange(len(CODE_LINES))
            block += ["```python", *CODE_LINES[start : start + rng.randint(2, 5)], "```", ""]
        lines += block
        size += len("\n".join(block).encode("utf-8"))
    return "\n".join(lines)


def generate(folder: Path, count: int, seed: int = SEED) -> list[int]:
    """Write notes 0..count-1 under `folder` (existing ones are kept); returns their sizes in bytes."""
    vocab = Vocabularies.fixed()
    sizes: list[int] = []
    for index in range(count):
        path = folder / f"lecture-{index // NOTES_PER_FOLDER:02d}" / f"note-{index:05d}.md"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_note(index, vocab, seed), encoding="utf-8")
        sizes.append(path.stat().st_size)
    return sizes


def synthetic_queries(count: int = 60, seed: int = SEED) -> list[tuple[str, str]]:
    """(kind, text): a third each Chinese, English and mixed; single terms and pairs."""
    rng = random.Random(seed + 2)
    queries: list[tuple[str, str]] = []
    for number in range(count):
        kind = ("zh", "en", "mixed")[number % 3]
        pair = rng.random() < 0.5
        if kind == "zh":
            terms = rng.sample(ML_TERMS_ZH, 2 if pair else 1)
        elif kind == "en":
            terms = rng.sample(ML_TERMS_EN, 2 if pair else 1)
        else:
            terms = [rng.choice(ML_TERMS_EN), rng.choice(ML_TERMS_ZH)]
        text = " ".join(t.replace("-", " ") for t in terms) if kind != "zh" or rng.random() < 0.5 else "".join(terms)
        queries.append((kind, text))
    return queries



def unique_queries() -> list[str]:
    """The synthetic queries' texts, each once (a repeat would not be a first time)."""
    return list(dict.fromkeys(text for _, text in synthetic_queries()))


COLD_QUERY = "缓存 路由"  # the restart's first query; the query children never ask it first


# --- child processes ------------------------------------------------------------------------------------


def child_build(root: Path) -> None:
    load_dictionary()
    corpus = CorpusSearch(root)
    cpu, started = time.process_time(), time.perf_counter()
    corpus.open()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    status = corpus.require_fresh(len(plain_note_paths(root)))
    emit(wall=wall, cpu=cpu, files=status.files, sections=status.sections, rss=peak_rss_mb(),
         index_bytes=corpus.index_bytes())
    corpus.close()


def _search(corpus: CorpusSearch, query: str) -> int:
    found = corpus.search(query, LIMIT)
    require_index(found.index_state, scanned=bool(getattr(found, "scanned", False)))
    return len(found.hits)


def child_serve(root: Path, rounds: int) -> None:
    corpus = CorpusSearch(root)
    corpus.open()
    corpus.require_fresh()
    emit(opened=True)
    corpus.search(PROBE_QUERY)
    times = time_queries({"engine": lambda q: _search(corpus, q)}, unique_queries(), rounds)["engine"]
    emit(times=times.to_json(), rss=peak_rss_mb())
    corpus.close()


def child_cold(root: Path) -> None:
    corpus, imports, opening = open_cold(root)
    opened = time.perf_counter()
    _search(corpus, COLD_QUERY)
    emit(imports=imports, open=opening, first=time.perf_counter() - opened)
    corpus.close()


def child_edits(root: Path, edits: int) -> None:
    corpus = CorpusSearch(root)
    corpus.open()
    notes = plain_note_paths(root)
    corpus.require_fresh(len(notes))
    times: list[float] = []
    unchanged: list[float] = []
    originals: dict[str, bytes] = {}
    try:
        for number, path in enumerate(random.Random(SEED + 3).sample(notes, edits)):
            originals[path] = (root / path).read_bytes()
            marker = f"synthedit{number:03d}marker"
            with (root / path).open("a", encoding="utf-8") as handle:
                handle.write(f"\n\n{marker} 编辑 edit\n")
            started = time.perf_counter()
            corpus.update([path])  # the new engine may leave it pending; the search then indexes it first
            found = [hit.path for hit in corpus.search(marker).hits]
            times.append(time.perf_counter() - started)
            if found != [path]:
                raise RuntimeError(f"{marker} not found after the update: {found}")
            started = time.perf_counter()
            corpus.update([path])
            unchanged.append(time.perf_counter() - started)
    finally:
        corpus.close()
        for path, data in originals.items():  # note i stays the same at every size
            (root / path).write_bytes(data)
    emit(edits=times, unchanged=unchanged)


# --- the run ----------------------------------------------------------------------------------------------


@dataclass
class StackSize:
    stack: str
    build: dict[str, Any]
    open_s: float
    queries: QueryTimes
    serve_rss_mb: float
    cold: list[dict[str, Any]] = field(default_factory=list)
    cold_stdio: list[float] = field(default_factory=list)  # spawn → first answer of the server over stdio
    edits: list[float] = field(default_factory=list)
    unchanged: list[float] = field(default_factory=list)

    @property
    def first(self) -> Any:
        return spread(self.queries.first_values())

    @property
    def repeated(self) -> Any:
        return spread(self.queries.repeated_values())

    @property
    def restart(self) -> float:
        return statistics.median(c["wall"] for c in self.cold) if self.cold else math.nan

    @property
    def restart_stdio(self) -> float:
        return statistics.median(self.cold_stdio) if self.cold_stdio else math.nan

    @property
    def reindex(self) -> float:
        return spread(self.edits).p50



# What two measurements of a stack are compared on (after / before; a larger size / a smaller one).
COMPARED: list[tuple[str, Callable[[StackSize], float]]] = [
    ("build wall", lambda s: s.build["wall"]),
    ("build CPU", lambda s: s.build["cpu"]),
    ("index size", lambda s: s.build["index_bytes"]),
    ("first-time p50", lambda s: s.first.p50),
    ("first-time p95", lambda s: s.first.p95),
    ("repeated p50", lambda s: s.repeated.p50),
    ("repeated p95", lambda s: s.repeated.p95),
    ("restart, server", lambda s: s.restart_stdio),
    ("restart, engine", lambda s: s.restart),
    ("re-index p50", lambda s: s.reindex),
    ("serving RSS", lambda s: s.serve_rss_mb),
]


def _ratios(a: StackSize, b: StackSize) -> list[str]:
    return [ratio(value(a), value(b)) for _, value in COMPARED]

@dataclass
class SizeResult:
    notes: int
    corpus_mb: float
    median_kb: float
    stacks: dict[str, StackSize]


def reset_index(stack: Stack, root: Path) -> None:
    shutil.rmtree(stack.cache, ignore_errors=True)
    stack.cache.mkdir(parents=True)
    shutil.rmtree(root / ".project-memory", ignore_errors=True)


def measure_stack(stack: Stack, root: Path, notes: int, args: argparse.Namespace, watch: CodeWatch) -> StackSize:
    if stack.name == "after":  # the old checkout does not change
        watch.step(f"{notes:,} notes ({stack.name})")
    reset_index(stack, root)
    (built,), _ = spawn_json(SCRIPT, stack, "--child", "build", str(root))
    print(f"{notes} notes ({stack.name}): built in {built['wall']:.0f} s", flush=True)
    served, opened = spawn_json(SCRIPT, stack, "--child", "serve", str(root), "--rounds", str(args.rounds))
    result = StackSize(stack.name, built, opened, QueryTimes.from_json(served[-1]["times"]), served[-1]["rss"])
    for _ in range(args.cold_starts):
        (cold,), wall = spawn_json(SCRIPT, stack, "--child", "cold", str(root))
        result.cold.append({**cold, "wall": wall})
        _, answered = anyio.run(stdio_cold_start, stack, root, COLD_QUERY)
        result.cold_stdio.append(answered)
    (edits,), _ = spawn_json(SCRIPT, stack, "--child", "edits", str(root), "--edits", str(args.edits))
    result.edits, result.unchanged = edits["edits"], edits["unchanged"]
    print(f"{notes} notes ({stack.name}): first-time p50 {ms(result.first.p50)} ms, restart "
          f"{result.restart:.2f} s (server {result.restart_stdio:.2f} s), re-index p50 {ms(result.reindex)} ms",
          flush=True)
    reset_index(stack, root)  # the indexes of 20,000 notes take hundreds of MB
    return result


def build_exponent(results: Sequence[SizeResult], stack: str) -> float:
    """How build time grows with notes (time ∝ notes^k), from the last two sizes measured; 1.0 with fewer."""
    measured = [r for r in results if stack in r.stacks]
    if len(measured) < 2:
        return 1.0
    small, large = measured[-2], measured[-1]
    grown = large.stacks[stack].build["wall"] / small.stacks[stack].build["wall"]
    return max(1.0, math.log(grown) / math.log(large.notes / small.notes))


def estimated_build(results: Sequence[SizeResult], stack: str, notes: int) -> float:
    measured = [r for r in results if stack in r.stacks]
    if not measured:
        return 0.0
    last = measured[-1]
    return float(last.stacks[stack].build["wall"] * (notes / last.notes) ** build_exponent(results, stack))


def render(results: list[SizeResult], args: argparse.Namespace, facts: str, code: str, old_code: str | None,
           skipped: list[str]) -> str:
    queries = unique_queries()
    largest = results[-1] if results else None
    out = [
        "## Scaling on a synthetic corpus",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {facts}; load average at the end {load_now()}  ",
        f"Code (after): {code}  ",
        f"Code (before): {old_code or 'not measured (no old checkout)'}",
        "",
        *load_note(args.start_load),
        f"Synthetic mixed Chinese/English study notes (seed {SEED}; 1–20 KB, headings, lists, code). Queries: "
        f"{len(queries)} ML terms alone and in pairs ({', '.join(queries[:6])}, ...), a third each Chinese, "
        f"English and mixed, limit {LIMIT}; *first time*: each query sent once to a process that has answered "
        f"only a probe (a word in no note); *repeated*: {args.rounds} more rounds. Every step in a fresh process on "
        "its stack's code: `after` is this code, `before` the old engine (the checkout before the search "
        f"rewrite, measured up to {args.old_max:,} notes). Restart, median of {args.cold_starts}: the server "
        f"(`python -m server --root NOTES`, spawn → MCP handshake → first answer to `{COLD_QUERY}`; its warm-up "
        "opens the index in the background and checks every note's stat after the first search may run) and the "
        "engine in process (spawn → import → open, the stat check included → the same query). Re-index: a line "
        "appended to a note, then the update and a "
        "search that must return the note (the new engine may leave a note pending for the next search to index), "
        f"median of {args.edits} notes.",
        "",
    ]
    if largest is not None and "after" in largest.stacks:
        a = largest.stacks["after"]
        note = "" if largest.notes >= TARGET_NOTES else f" (**{largest.notes:,} notes: the targets are for 20,000**)"
        out += [
            f"### Targets at {largest.notes:,} notes{note}",
            "",
            *table(
                ["measure", "target", "measured", "result"],
                [
                    ["first-time query p50", "≤ 25 ms", f"{ms(a.first.p50)} ms", verdict(a.first.p50, QUERY_P50_S)],
                    ["first-time query p95", "≤ 100 ms", f"{ms(a.first.p95)} ms", verdict(a.first.p95, QUERY_P95_S)],
                    ["repeated query p50", "≤ 25 ms", f"{ms(a.repeated.p50)} ms",
                     verdict(a.repeated.p50, QUERY_P50_S)],
                    ["repeated query p95", "≤ 100 ms", f"{ms(a.repeated.p95)} ms",
                     verdict(a.repeated.p95, QUERY_P95_S)],
                    ["full build", "≤ 400 s", f"{a.build['wall']:.1f} s", verdict(a.build["wall"], BUILD_S)],
                    ["first search after a restart, server over stdio", "≤ 2 s", f"{a.restart_stdio:.2f} s",
                     verdict(a.restart_stdio, RESTART_S)],
                    ["first search after a restart, engine in process", "≤ 2 s", f"{a.restart:.2f} s",
                     verdict(a.restart, RESTART_S)],
                    ["re-index one edited note, p50", "≤ 50 ms", f"{ms(a.reindex)} ms", verdict(a.reindex, REINDEX_S)],
                ],
            ),
        ]
    rows = []
    for r in results:
        for name, s in r.stacks.items():
            cold_first = statistics.median(c["first"] for c in s.cold) if s.cold else math.nan
            rows.append([
                f"{r.notes:,}", name, f"{r.corpus_mb:.1f}", f"{s.build['sections']:,}",
                f"{s.build['wall']:.1f} ({s.build['cpu']:.1f})", f"{s.build['rss']:.0f}",
                f"{s.build['index_bytes'] / 2**20:.1f}", f"{s.open_s:.2f}",
                f"{ms(s.first.p50)} / {ms(s.first.p95)}", f"{ms(s.repeated.p50)} / {ms(s.repeated.p95)}",
                f"{ms(spread(list(s.queries.first_cpu.values())).p50)}",
                f"{s.restart_stdio:.2f}", f"{s.restart:.2f} ({ms(cold_first)})",
                f"{ms(s.reindex)} / {ms(spread(s.edits).max)}",
                f"{s.serve_rss_mb:.0f}", f"{sum(s.queries.hits.values()) / max(1, len(s.queries.hits)):.1f}",
            ])
    out += [
        "### Per size and stack",
        "",
        *table(
            ["notes", "stack", "corpus MB", "sections", "build s (CPU s)", "build peak RSS MB", "index MB",
             "spawn → open s", "first-time p50 / p95 ms", "repeated p50 / p95 ms", "first-time CPU p50 ms",
             "restart, server s", "restart, engine s (its query ms)", "re-index p50 / max ms",
             "serving peak RSS MB", "hits/query"],
            rows,
        ),
    ]
    pairs = [r for r in results if {"after", "before"} <= r.stacks.keys()]
    if pairs:
        out += [
            "After / before, same size, same run (below 1: the new engine is faster or smaller):",
            "",
            *table(
                ["notes", *(column for column, _ in COMPARED)],
                [
                    [f"{r.notes:,}", *_ratios(a, b)]
                    for r in pairs
                    for a, b in [(r.stacks["after"], r.stacks["before"])]
                ],
            ),
        ]
    grown = [(small, large) for small, large in pairwise(results)
             if "after" in small.stacks and "after" in large.stacks]
    if grown:
        out += [
            "Growth of `after` between consecutive sizes (ratio larger / smaller):",
            "",
            *table(
                ["sizes", "notes", *(column for column, _ in COMPARED)],
                [
                    [f"{small.notes:,} → {large.notes:,}", ratio(large.notes, small.notes), *_ratios(a, b)]
                    for small, large in grown
                    for a, b in [(large.stacks["after"], small.stacks["after"])]
                ],
            ),
        ]
    if skipped:
        out += [f"Not run: {'; '.join(skipped)}.", ""]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and query synthetic corpora of growing size.")
    parser.add_argument("--sizes", help="comma-separated note counts (default 2000,5000,20000; quick 300,1000)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round, fewer restarts and edits")
    parser.add_argument("--rounds", type=int, help="repeated rounds after the first-time pass (default 3; quick 1)")
    parser.add_argument("--cold-starts", type=int, help="restarts timed per size and stack (default 3; quick 1)")
    parser.add_argument("--edits", type=int, help="notes re-indexed one by one (default 20; quick 5)")
    parser.add_argument("--old", type=Path, default=DEFAULT_OLD,
                        help=f"checkout of the old engine, the 'before' baseline (default {DEFAULT_OLD})")
    parser.add_argument("--no-old", dest="old", action="store_const", const=None, help="skip the old engine")
    parser.add_argument("--old-max", type=int, default=5000, help="largest size the old engine is measured at")
    parser.add_argument("--budget", type=float, default=1800.0,
                        help="skip a stack at a size whose estimated build exceeds this (default 1800 s)")
    parser.add_argument("--workdir", type=Path, help="where to put notes and indexes (default: a temporary folder)")
    parser.add_argument("--name", default="synthetic", help="result file name under bench/results")
    parser.add_argument("--generate-only", type=int, metavar="N", help="write N notes to --out and stop")
    parser.add_argument("--out", type=Path, help="folder for --generate-only")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("child_root", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        use_code(args.code)
        children = {
            "build": lambda: child_build(args.child_root),
            "serve": lambda: child_serve(args.child_root, args.rounds),
            "cold": lambda: child_cold(args.child_root),
            "edits": lambda: child_edits(args.child_root, args.edits),
        }
        children[args.child]()
        return 0
    if args.generate_only:
        if args.out is None:
            parser.error("--generate-only needs --out")
        sizes = generate(args.out, args.generate_only)
        print(f"{sum(sizes) / 2**20:.1f} MB in {args.out}, median note {statistics.median(sizes) / 1024:.1f} KB")
        return 0
    counts = sorted(int(n) for n in (args.sizes or ("300,1000" if args.quick else "2000,5000,20000")).split(","))
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.cold_starts = args.cold_starts or (1 if args.quick else 3)
    args.edits = args.edits or (5 if args.quick else 20)
    args.start_load = os.getloadavg()[0]
    facts, code, watch = machine_facts(), code_state(), CodeWatch()
    old = old_checkout(args.old)
    old_code = code_state(old) if old is not None else None
    results: list[SizeResult] = []
    skipped: list[str] = []
    with tempfile.TemporaryDirectory(prefix="project-memory-synthetic-", dir=args.workdir) as tmp:
        work = Path(tmp)
        root = work / "notes"  # sizes ascending: a smaller size must not see a larger one's notes
        make_memory(root)  # the server refuses a folder that is not a memory
        for notes in counts:
            started = time.perf_counter()
            sizes = generate(root, notes)
            print(f"{notes} notes: {sum(sizes) / 2**20:.1f} MB present after {time.perf_counter() - started:.0f} s",
                  flush=True)
            result = SizeResult(notes, sum(sizes) / 2**20, statistics.median(sizes) / 1024, {})
            for stack in stacks(work, old):
                if stack.name == "before" and notes > args.old_max:
                    skipped.append(f"before at {notes:,} notes (above --old-max {args.old_max:,})")
                    continue
                estimate = estimated_build(results, stack.name, notes)
                if estimate > args.budget:
                    skipped.append(f"{stack.name} at {notes:,} notes: its build, extrapolated as notes^"
                                   f"{build_exponent(results, stack.name):.2f}, would take about {estimate:.0f} s, "
                                   f"over the --budget of {args.budget:.0f} s")
                    continue
                result.stacks[stack.name] = measure_stack(stack, root, notes, args, watch)
            results.append(result)
            print(render(results, args, facts, code, old_code, skipped), flush=True)
    text = render(results, args, facts, code, old_code, skipped)
    text = "\n".join([text, *watch.note()])
    print(f"written to {write_result(args.name, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
