"""Estimating how many tokens a text costs a model, without the model's tokenizer.

Characters/4 undercounts Chinese several times over: a CJK character is about a token on its own, while
English runs at about a word a token. The estimate adds up a typical cost for each kind of thing in the text
(CJK characters, English words, digits, runs of punctuation, symbols, emoji, box drawing, whitespace) and
multiplies the sum by a margin, so that it errs high: a briefing that fits the estimate fits the budget.

The weights were fitted to Claude's published tokenizer (the `tokenizer.json` shipped in the `anthropic`
Python SDK up to 0.38.0) on the CS336 notes cut into paragraph-sized chunks, and the margin set so that few
such chunks are under-counted by more than 5%: 0.3% of those fitted on, about 2% of files held out.
`bench/token_estimator.py` repeats the check against that tokenizer and OpenAI's o200k_base; BENCHMARKS.md
has the figures. Claude 3 and later tokenize differently and their tokenizer is not published, so the margin
is a calibration, not a guarantee. Other scripts (Korean, Cyrillic) are not calibrated.
"""

import math
import re

# CJK ideographs, kana, Hangul, and the CJK and full-width punctuation blocks.
_CJK = "\u3000-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_EMOJI = "\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff"

_CJK_CHAR = re.compile(f"[{_CJK}]")
_EMOJI_CHAR = re.compile(f"[{_EMOJI}]")
_OTHER_CHAR = re.compile(f"[^\x00-\x7f{_CJK}{_EMOJI}\u2500-\u257f]")
_BOX_DRAWING = re.compile("[\u2501-\u257f]")
_SPACE_BEFORE_NON_ASCII = re.compile(r" [^\x00-\x7f]")
_WORD = re.compile(r"[A-Za-z]+")
_DIGIT_RUN = re.compile(r"[0-9]+")
_PUNCTUATION_RUN = re.compile(r"[!-/:-@\[-`{-~]+")
_SPACE_RUN = re.compile(r"[ \t]{2,}")

# Typical cost of each kind of thing, fitted to Claude's tokenizer (see the module docstring).
CJK_TOKENS = 1.0  # common pairs share a token, rarer characters take two
SPACE_BEFORE_NON_ASCII_TOKENS = 0.45  # the space does not merge with the character's bytes
WORD_TOKENS = 1.0  # an English word, lower case
CAPITALIZED_LETTER_TOKENS = 0.15  # per letter of a word with capitals: names, acronyms, CamelCase split up
DIGIT_TOKENS = 0.35  # numbers go two or three digits a token ...
DIGIT_RUN_TOKENS = 0.8  # ... and a short number is a token of its own
PUNCTUATION_RUN_TOKENS = 0.9  # `**`, `](`, `://`, `|` are one token each
EMOJI_TOKENS = 2.0
OTHER_SYMBOL_TOKENS = 0.5  # arrows, Greek letters, maths
HORIZONTAL_LINE_TOKENS = 0.3  # `─` merges into runs
BOX_DRAWING_TOKENS = 1.35  # `│├└━` and the rest of tree and table drawing take a token or two each
SPACE_RUN_TOKENS = 0.7  # indentation and table padding
NEWLINE_TOKENS = 0.7
# The weights give the typical count and text varies around it (ASCII art, box diagrams, long URLs); with
# this margin 0.3% of the paragraph-sized chunks fall more than 5% below the real count (~2% held out).
MARGIN = 1.1


def estimate_tokens(text: str) -> int:
    words = _WORD.findall(text)
    capitalized_letters = sum(len(word) for word in words if not word.islower())
    digit_runs = _DIGIT_RUN.findall(text)
    typical = (
        len(_CJK_CHAR.findall(text)) * CJK_TOKENS
        + len(_SPACE_BEFORE_NON_ASCII.findall(text)) * SPACE_BEFORE_NON_ASCII_TOKENS
        + len(words) * WORD_TOKENS
        + capitalized_letters * CAPITALIZED_LETTER_TOKENS
        + sum(len(run) for run in digit_runs) * DIGIT_TOKENS
        + len(digit_runs) * DIGIT_RUN_TOKENS
        + len(_PUNCTUATION_RUN.findall(text)) * PUNCTUATION_RUN_TOKENS
        + len(_EMOJI_CHAR.findall(text)) * EMOJI_TOKENS
        + len(_OTHER_CHAR.findall(text)) * OTHER_SYMBOL_TOKENS
        + text.count("\u2500") * HORIZONTAL_LINE_TOKENS
        + len(_BOX_DRAWING.findall(text)) * BOX_DRAWING_TOKENS
        + len(_SPACE_RUN.findall(text)) * SPACE_RUN_TOKENS
        + text.count("\n") * NEWLINE_TOKENS
    )
    return math.ceil(typical * MARGIN)
