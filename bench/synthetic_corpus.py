"""Scaling benchmark: synthetic mixed Chinese/English notes at several sizes; how build, index, queries and
memory grow.

The notes are Markdown study notes as a person writes them: a title, `##`/`###` sections, paragraphs, lists
and fenced code. Their words come from a fixed list of ML terms (English and Chinese) and a pseudo-Chinese
vocabulary drawn from common Han characters, both with Zipf-like frequencies, so a few words are everywhere
and most are rare, as in real text. Everything derives from one seed, and note i is the same at every size:
the 2,000-note corpus is the first 2,000 notes of the 5,000-note one.

Per size, in fresh processes (so each peak RSS is its own): one full build into a temporary folder (wall
and CPU time, peak RSS), then a serving process that opens the index (wall time from spawn to open), runs
every query `--rounds` times after an unmeasured pass, and reports its peak RSS (VmHWM). Queries are ML
terms alone and in pairs: Chinese, English and mixed.

    .venv/bin/python bench/synthetic_corpus.py [--quick] [--sizes 2000,5000,20000] [--rounds 3]
    .venv/bin/python bench/synthetic_corpus.py --generate-only 500 --out /tmp/notes   # just write notes

Writes the tables to bench/results/synthetic.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

from common import (
    code_changed_note,
    code_fingerprint,
    code_state,
    command_line,
    corpus_engine,
    folder_mb,
    machine_facts,
    ms,
    peak_rss_mb,
    require_index,
    spread,
    use_repo,
    write_result,
)

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


# --- child processes ------------------------------------------------------------------------------------


def child_build(root: Path, index_dir: Path) -> int:
    use_repo()
    from server.analyzer import load_segmenter

    load_segmenter()
    engine = corpus_engine(root, index_dir)
    cpu, started = time.process_time(), time.perf_counter()
    engine.warm_up()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    status = engine.status()
    require_index(status.state, status.files, sum(1 for _ in root.rglob("*.md")))
    engine.close()
    result = {"wall": wall, "cpu": cpu, "files": status.files, "sections": status.sections, "rss": peak_rss_mb()}
    print(json.dumps(result), flush=True)
    return 0


def child_serve(root: Path, index_dir: Path, rounds: int) -> int:
    use_repo()
    engine = corpus_engine(root, index_dir)
    engine.warm_up()
    require_index(engine.status().state)
    print(json.dumps({"opened": True}), flush=True)
    queries = synthetic_queries()
    for _, text in queries:
        engine.search(text)
    wall: list[float] = []
    cpu: list[float] = []
    hits: list[int] = []
    for _ in range(rounds):
        for _, text in queries:
            thread, started = time.thread_time(), time.perf_counter()
            found = engine.search(text)
            wall.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - thread)
            hits.append(len(found.hits))
    result = {"wall": wall, "cpu": cpu, "hits": hits, "rss": peak_rss_mb(), "state": engine.status().state}
    print(json.dumps(result), flush=True)
    return 0


def _spawn(*args: str) -> tuple[list[dict[str, Any]], float]:
    """Run this script as a child; its JSON lines, and the wall seconds until the first one."""
    command = [sys.executable, str(Path(__file__).resolve()), *args]
    started = time.perf_counter()
    lines: list[dict[str, Any]] = []
    first = math.nan
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            if not lines:
                first = time.perf_counter() - started
            lines.append(json.loads(line))
        proc.wait()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {args[0]} failed with exit code {proc.returncode}")
    return lines, first


# --- the run ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeResult:
    notes: int
    corpus_mb: float
    median_kb: float
    sections: int
    build_s: float
    build_cpu_s: float
    build_rss_mb: float
    index_mb: float
    open_s: float
    p50: float
    p95: float
    cpu_p50: float
    cpu_p95: float
    serve_rss_mb: float
    mean_hits: float


def measure_size(base: Path, notes: int, rounds: int) -> SizeResult:
    root = base / "notes"
    started = time.perf_counter()
    sizes = generate(root, notes)
    corpus_mb = sum(sizes) / 2**20
    print(f"{notes} notes: {corpus_mb:.1f} MB present after {time.perf_counter() - started:.0f} s", flush=True)
    # Notes beyond this size (left by a larger earlier size) would be indexed too: generate sizes ascending.
    index_dir = base / f"index-{notes}"
    (built,), _ = _spawn("--child-build", str(root), str(index_dir))
    print(f"{notes} notes: built in {built['wall']:.0f} s", flush=True)
    served, opened = _spawn("--child-serve", str(root), str(index_dir), str(rounds))
    result = served[-1]
    wall, cpu, hits = (list(map(float, result[key])) for key in ("wall", "cpu", "hits"))
    size = SizeResult(
        notes=notes,
        corpus_mb=corpus_mb,
        median_kb=statistics.median(sizes) / 1024,
        sections=int(built["sections"]),
        build_s=float(built["wall"]),
        build_cpu_s=float(built["cpu"]),
        build_rss_mb=float(built["rss"]),
        index_mb=folder_mb(index_dir),
        open_s=opened,
        p50=spread(wall).p50,
        p95=spread(wall).p95,
        cpu_p50=spread(cpu).p50,
        cpu_p95=spread(cpu).p95,
        serve_rss_mb=float(result["rss"]),
        mean_hits=sum(hits) / len(hits),
    )
    shutil.rmtree(index_dir)
    return size


def build_exponent(results: Sequence[SizeResult]) -> float:
    """How build time grows with notes (time ∝ notes^k), from the last two sizes; 1.0 with fewer.
    Builds grow faster than linearly once Whoosh's posting pool spills to disk."""
    if len(results) < 2:
        return 1.0
    small, large = results[-2], results[-1]
    return max(1.0, math.log(large.build_s / small.build_s) / math.log(large.notes / small.notes))


def render(results: list[SizeResult], args: argparse.Namespace, facts: str, code: str, skipped: list[int]) -> str:
    def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
        return [
            "| " + " | ".join(header) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
            *("| " + " | ".join(row) + " |" for row in rows),
            "",
        ]

    queries = synthetic_queries()
    out = [
        "## Scaling on a synthetic corpus",
        "",
        f"Command: `{command_line()}`  ",
        f"Machine: {facts}; load average at the end " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + "  ",
        f"Code: {code}",
        "",
        f"Synthetic mixed Chinese/English study notes (seed {SEED}; 1–20 KB, headings, lists, "
        f"code). Queries: {len(queries)} ML terms alone and in pairs ({', '.join(q for _, q in queries[:6])}, ...), "
        f"a third each Chinese, English and mixed; each run {args.rounds} times after an unmeasured pass, limit 10. "
        "Build and serving each in a fresh process; one build per size. Wall-clock times, with the CPU time "
        "of the process (build) or of the searching thread (queries) beside them, since the machine is shared.",
        "",
        *table(
            [
                "notes",
                "corpus MB",
                "median note KB",
                "sections",
                "build s (CPU s)",
                "build MB/s (CPU)",
                "build peak RSS MB",
                "index MB",
                "spawn → index open s",
                "query p50 ms (CPU)",
                "query p95 ms (CPU)",
                "serving peak RSS MB",
                "hits/query",
            ],
            [
                [
                    f"{r.notes:,}",
                    f"{r.corpus_mb:.1f}",
                    f"{r.median_kb:.1f}",
                    f"{r.sections:,}",
                    f"{r.build_s:.1f} ({r.build_cpu_s:.1f})",
                    f"{r.corpus_mb / r.build_s:.2f} ({r.corpus_mb / r.build_cpu_s:.2f})",
                    f"{r.build_rss_mb:.0f}",
                    f"{r.index_mb:.1f}",
                    f"{r.open_s:.2f}",
                    f"{ms(r.p50)} ({ms(r.cpu_p50)})",
                    f"{ms(r.p95)} ({ms(r.cpu_p95)})",
                    f"{r.serve_rss_mb:.0f}",
                    f"{r.mean_hits:.1f}",
                ]
                for r in results
            ],
        ),
    ]
    if len(results) > 1:
        out += ["Growth between consecutive sizes (ratio larger / smaller):", ""]
        rows = []
        for small, large in pairwise(results):
            pairs = (
                (large.notes, small.notes),
                (large.build_s, small.build_s),
                (large.build_cpu_s, small.build_cpu_s),
                (large.index_mb, small.index_mb),
                (large.open_s, small.open_s),
                (large.p50, small.p50),
                (large.p95, small.p95),
                (large.cpu_p50, small.cpu_p50),
                (large.serve_rss_mb, small.serve_rss_mb),
                (large.build_rss_mb, small.build_rss_mb),
            )
            rows.append([f"{small.notes:,} → {large.notes:,}", *(f"{a / b:.2f}" for a, b in pairs)])
        out += table(
            [
                "sizes",
                "notes",
                "build wall",
                "build CPU",
                "index size",
                "open",
                "query p50",
                "query p95",
                "query CPU p50",
                "serving RSS",
                "build RSS",
            ],
            rows,
        )
    if skipped:
        out += [
            f"Not run: {', '.join(f'{n:,}' for n in skipped)} notes: the build, extrapolated from the sizes above "
            f"as notes^{build_exponent(results):.2f}, would exceed the --budget of {args.budget:.0f} s.",
            "",
        ]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build and query synthetic corpora of growing size.")
    parser.add_argument("--sizes", help="comma-separated note counts (default 2000,5000,20000; quick 300,1000)")
    parser.add_argument("--quick", action="store_true", help="small sizes, one round")
    parser.add_argument("--rounds", type=int, help="measured rounds per query (default 3; quick 1)")
    parser.add_argument(
        "--budget", type=float, default=900.0, help="skip a size whose estimated build exceeds this (default 900 s)"
    )
    parser.add_argument("--workdir", type=Path, help="where to put notes and indexes (default: a temporary folder)")
    parser.add_argument("--name", default="synthetic", help="result file name under bench/results")
    parser.add_argument("--generate-only", type=int, metavar="N", help="write N notes to --out and stop")
    parser.add_argument("--out", type=Path, help="folder for --generate-only")
    parser.add_argument("--child-build", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--child-serve", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_build:
        return child_build(Path(args.child_build[0]), Path(args.child_build[1]))
    if args.child_serve:
        root, index_dir, rounds = args.child_serve
        return child_serve(Path(root), Path(index_dir), int(rounds))
    if args.generate_only:
        if args.out is None:
            parser.error("--generate-only needs --out")
        sizes = generate(args.out, args.generate_only)
        print(f"{sum(sizes) / 2**20:.1f} MB in {args.out}, median note {statistics.median(sizes) / 1024:.1f} KB")
        return 0
    sizes = sorted(int(n) for n in (args.sizes or ("300,1000" if args.quick else "2000,5000,20000")).split(","))
    args.rounds = args.rounds or (1 if args.quick else 3)
    facts, code, fingerprint = machine_facts(), code_state(), code_fingerprint()
    results: list[SizeResult] = []
    skipped: list[int] = []
    with tempfile.TemporaryDirectory(prefix="project-memory-synthetic-", dir=args.workdir) as tmp:
        for notes in sizes:
            if results:
                last = results[-1]
                estimate = last.build_s * (notes / last.notes) ** build_exponent(results)
                if estimate > args.budget:
                    print(f"skipping {notes} notes: the build would take about {estimate:.0f} s", flush=True)
                    skipped.append(notes)
                    continue
            results.append(measure_size(Path(tmp), notes, args.rounds))
            print(render(results, args, facts, code, skipped), flush=True)
    text = render(results, args, facts, code, skipped)
    text = "\n".join([text, *code_changed_note(fingerprint)])
    print(f"written to {write_result(args.name, text)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
