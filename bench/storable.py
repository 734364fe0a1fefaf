"""What making a model's token storable (`persistream.engine.storable`) costs on the token path, per token, against
the same loop without it.

    .venv/bin/python -m bench.storable [--rounds 7]

Prints nanoseconds per token (median over rounds) for ASCII tokens, tokens with other characters, and tokens that
hold NUL or a lone surrogate (the only ones it changes), with and without the call.
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable

from persistream.engine.storable import storable

KINDS = {
    "ascii": [" The", " answer", " is", " here", " and", " it", " goes", " on."],
    "other characters": [" Grüße", " 漢字", " 🦀", " e\u0301", " naïve", " 日本語", " ok", "."],
    "NUL or lone surrogate": [" a\x00", " \ud800b", " ok", " \udfff", " fine", "\x00", " é\x00", "."],
}
LOOPS = 20_000


def per_token_ns(step: Callable[[str], str], tokens: list[str], rounds: int) -> float:
    def run() -> None:
        for token in tokens:
            step(token)

    times = timeit.repeat(run, number=LOOPS, repeat=rounds)
    return statistics.median(times) / (LOOPS * len(tokens)) * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print("| tokens | plain loop (ns/token) | with storable (ns/token) | added |")
    print("| --- | --- | --- | --- |")
    for kind, tokens in KINDS.items():
        plain = per_token_ns(lambda token: token, tokens, args.rounds)
        checked = per_token_ns(storable, tokens, args.rounds)
        print(f"| {kind} | {plain:.0f} | {checked:.0f} | {checked - plain:.0f} |")


if __name__ == "__main__":
    main()
