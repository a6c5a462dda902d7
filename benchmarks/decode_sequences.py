"""The camera path on frame sequences: cost of idle frames, time to first decode of a phone held up.

    .venv/bin/python benchmarks/decode_sequences.py [--samples DIR] [--limit N] [--json]

Idle: 720p BGR frames of a desk, static and with sensor noise; milliseconds per frame for
zxing-cpp alone, the default chain on every frame (before) and the sequence decoder (after).
Sequences: a phone screen showing a code (a shared QR sample whose text is a clean scan, or a
generated booking code) moving in front of a 30 fps camera for 2 s: perspective, motion blur,
glare, the screen's pixel grid aliased by the camera (moiré), sensor noise, JPEG. Each decoder
takes the newest frame when it is free (frames are skipped, never queued), so time to first
decode includes its own slowness. Negatives: the false-positive samples moved the same way.
Everything is built from fixed seeds. Exit status 1 if the sequence decoder misreads or reads
a negative.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.decode import DEFAULT_SAMPLES  # noqa: E402
from vaxflow.hardware.decoders import Decoder, make_decoder  # noqa: E402
from vaxflow.hardware.frame_sequences import (  # noqa: E402
    FPS,
    SECONDS,
    Bgr,
    Sequence,
    build_sequences,
    idle_frames,
)
from vaxflow.hardware.sequence_decoder import SequenceDecoder  # noqa: E402


@dataclass
class Run:
    """One decoder on one sequence: when it first read the code, whether it misread."""

    first: float | None = None
    misread: bool = False
    decodes: int = 0


def play(seq: Sequence, decoder: Decoder, cache: dict[int, Bgr]) -> Run:
    """The sequence at 30 fps; the decoder always takes the newest frame when it is free."""
    run = Run()
    t = 0.0
    while t < SECONDS:
        index = int(t * FPS)
        frame = cache.get(index)
        if frame is None:
            frame = cache[index] = seq.held.frame(index)
        start = time.perf_counter()
        texts = decoder.decode(frame)
        spent = time.perf_counter() - start
        run.decodes += 1
        t = max(t + spent, (index + 1) / FPS)
        if not texts:
            continue
        if seq.expected is None or seq.expected not in texts:
            run.misread = True
            return run
        run.first = t
        return run
    return run


def per_frame_ms(decoder: Decoder, frames: list[Bgr]) -> float:
    decoder.decode(frames[0])
    start = time.perf_counter()
    for frame in frames[1:]:
        decoder.decode(frame)
    return 1000 * (time.perf_counter() - start) / (len(frames) - 1)


DECODERS: dict[str, Callable[[], Decoder]] = {
    "zxing (every frame)": lambda: make_decoder("zxing"),
    "default chain (before)": lambda: make_decoder("default"),
    "sequence (after)": lambda: SequenceDecoder.around(make_decoder("default")),
}


def percentile(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _ms(value: object) -> str:
    """A time in whole milliseconds, or "-" when there was none."""
    return "-" if not isinstance(value, float | int) else str(round(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    parser.add_argument("--limit", type=int, default=40, help="shared samples used (0: all)")
    parser.add_argument("--generated", type=int, default=20, help="generated booking codes")
    parser.add_argument("--idle-frames", type=int, default=60)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows: list[dict[str, object]] = []
    idle = {kind: idle_frames(kind, args.idle_frames) for kind in ("static", "noisy")}
    for label, factory in DECODERS.items():
        decoder = factory()
        try:
            for kind, frames in idle.items():
                if isinstance(decoder, SequenceDecoder):
                    decoder.reset()
                rows.append(
                    {"decoder": label, "idle": kind, "ms_per_frame": per_frame_ms(decoder, frames)}
                )
        finally:
            decoder.close()
    seqs = build_sequences(args.samples, args.limit, args.generated)
    positives = [s for s in seqs if s.expected is not None]
    decoders = {label: factory() for label, factory in DECODERS.items()}
    runs: dict[str, list[tuple[Sequence, Run]]] = {label: [] for label in decoders}
    try:
        for seq in seqs:
            cache: dict[int, Bgr] = {}  # the same frames for every decoder
            for label, decoder in decoders.items():
                if isinstance(decoder, SequenceDecoder):
                    decoder.reset()
                runs[label].append((seq, play(seq, decoder, cache)))
    finally:
        for decoder in decoders.values():
            decoder.close()
    for label, done in runs.items():
        firsts = [r.first for s, r in done if s.expected is not None and r.first is not None]
        rows.append(
            {
                "decoder": label,
                "sequences": len(positives),
                "decoded": len(firsts),
                "within_1s": sum(f <= 1.0 for f in firsts),
                "first_p50_ms": percentile([1000 * f for f in firsts], 50),
                "first_p95_ms": percentile([1000 * f for f in firsts], 95),
                "misreads": sum(r.misread for s, r in done if s.expected is not None),
                "negatives": len(seqs) - len(positives),
                "false_positives": sum(r.misread for s, r in done if s.expected is None),
            }
        )
    _print(rows, args.json)
    after = rows[-1]
    return 1 if after["misreads"] or after["false_positives"] else 0


def _print(rows: list[dict[str, object]], as_json: bool) -> None:
    for row in rows:
        if as_json:
            print(json.dumps(row))
        elif "idle" in row:
            print(f"{row['decoder']:<24} idle {row['idle']:<7} {row['ms_per_frame']:7.2f} ms/frame")
        else:
            p50, p95 = (_ms(row["first_p50_ms"]), _ms(row["first_p95_ms"]))
            print(
                f"{row['decoder']:<24} decoded {row['decoded']}/{row['sequences']}"
                f" within 1 s {row['within_1s']}/{row['sequences']}"
                f" first decode p50 {p50} ms p95 {p95} ms"
                f" misreads {row['misreads']}"
                f" false+ {row['false_positives']}/{row['negatives']}"
            )


if __name__ == "__main__":
    sys.exit(main())
