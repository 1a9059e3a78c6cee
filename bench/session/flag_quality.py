"""How good the message-flag detector is: per-flag precision, recall, F1 and speed on a labelled set.

Issue 5 asks for the detector's precision and recall measured on hand-written messages, gated by a test;
this module computes them (pure functions over labelled messages) and offers a CLI for the report:

    .venv/bin/python bench/session/flag_quality.py [path.jsonl] [--config cfg.json] [--errors]

An evaluation tool, not part of the service: the quality gate (tests/session/domain/test_message_flags.py)
and this CLI are its only callers.

The labelled set is JSON lines (``text``, ``sender``, ``flags``, optional ``note``). What the platform
publishes (clinic numbers, domains) is part of the ground truth, so it sits next to the set as
``<name>.config.json`` (a :class:`MessageFlagConfig`), read unless ``--config`` names another file.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rapport_common.events.session import Participant
from rapport_session.domain.message_flags import FLAGS, Flag, MessageFlagConfig, detect_flags

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SET = ROOT / "tests" / "session" / "domain" / "data" / "messages_labelled.jsonl"


class LabelledMessage(BaseModel):
    """One hand-labelled message; ``note`` says why it is there (``hard: ...`` for hard negatives)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1)
    sender: Participant
    flags: frozenset[Flag]
    note: str | None = None

    @property
    def is_hard_negative(self) -> bool:
        return not self.flags and (self.note or "").startswith("hard")


@dataclass(frozen=True, slots=True)
class FlagScore:
    """Confusion counts of one flag over a labelled set."""

    flag: Flag
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int

    @property
    def support(self) -> int:
        """Messages that truly carry the flag."""
        return self.true_positives + self.false_negatives

    @property
    def precision(self) -> float:
        predicted = self.true_positives + self.false_positives
        return self.true_positives / predicted if predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.support if self.support else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, slots=True)
class Miss:
    """A message where the detector disagreed with the label."""

    message: LabelledMessage
    detected: frozenset[Flag]


@dataclass(frozen=True, slots=True)
class QualityReport:
    scores: dict[Flag, FlagScore]
    messages: int
    negatives: int
    hard_negatives: int
    hard_negatives_flagged: int
    exact_matches: int
    misses: tuple[Miss, ...]


@dataclass(frozen=True, slots=True)
class Throughput:
    """Detector speed on one thread.

    CPU time (the thread's own clock) is what one core can sustain and does not move when other
    processes share the machine; wall-clock time is reported beside it for honesty.
    """

    messages: int
    cpu_seconds: float
    wall_seconds: float
    p99_us: float

    @property
    def messages_per_cpu_second(self) -> float:
        return self.messages / self.cpu_seconds

    @property
    def messages_per_wall_second(self) -> float:
        return self.messages / self.wall_seconds

    @property
    def mean_us(self) -> float:
        return self.cpu_seconds / self.messages * 1e6


def load_labelled(path: Path) -> list[LabelledMessage]:
    """Read and validate a JSON-lines labelled set (a bad line names its line number)."""
    messages = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            messages.append(LabelledMessage.model_validate_json(line))
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from error
    return messages


def load_config(path: Path) -> MessageFlagConfig:
    return MessageFlagConfig.model_validate_json(path.read_text(encoding="utf-8"))


def config_for(labelled_set: Path) -> MessageFlagConfig:
    """The set's own sidecar config (``<name>.config.json``) or, without one, the platform defaults."""
    sidecar = labelled_set.with_suffix(".config.json")
    return load_config(sidecar) if sidecar.exists() else MessageFlagConfig()


def evaluate(messages: Sequence[LabelledMessage], *, config: MessageFlagConfig) -> QualityReport:
    """Run the detector over every message and count agreements per flag."""
    counts = {flag: [0, 0, 0, 0] for flag in FLAGS}  # tp, fp, fn, tn
    misses = []
    exact = hard_flagged = 0
    for message in messages:
        detected = detect_flags(message.text, config=config)
        if detected == message.flags:
            exact += 1
        else:
            misses.append(Miss(message, detected))
            if message.is_hard_negative:
                hard_flagged += 1
        for flag in FLAGS:
            truth, guess = flag in message.flags, flag in detected
            counts[flag][(0 if guess else 2) if truth else (1 if guess else 3)] += 1
    return QualityReport(
        scores={flag: FlagScore(flag, *c) for flag, c in counts.items()},
        messages=len(messages),
        negatives=sum(1 for m in messages if not m.flags),
        hard_negatives=sum(1 for m in messages if m.is_hard_negative),
        hard_negatives_flagged=hard_flagged,
        exact_matches=exact,
        misses=tuple(misses),
    )


def measure_throughput(texts: Sequence[str], *, config: MessageFlagConfig, min_seconds: float = 1.0) -> Throughput:
    """Time :func:`detect_flags` cycling over ``texts`` for at least ``min_seconds`` of CPU time."""
    if not texts:
        raise ValueError("need at least one text")
    for text in texts:  # warm-up
        detect_flags(text, config=config)
    cpu, wall = time.thread_time_ns, time.perf_counter_ns
    durations: list[int] = []
    cpu_started, wall_started = cpu(), wall()
    while not durations or cpu() - cpu_started < min_seconds * 1e9:
        for text in texts:
            started = cpu()
            detect_flags(text, config=config)
            durations.append(cpu() - started)
    cpu_total, wall_total = cpu() - cpu_started, wall() - wall_started
    p99 = statistics.quantiles(durations, n=100)[98] if len(durations) > 1 else durations[0]
    return Throughput(len(durations), cpu_total / 1e9, wall_total / 1e9, p99 / 1e3)


def format_report(report: QualityReport, throughput: Throughput | None = None) -> str:
    """A plain-text table, one row per flag."""
    lines = [
        f"messages {report.messages}  negatives {report.negatives} ({report.negatives / report.messages:.0%})  "
        f"hard negatives {report.hard_negatives} (flagged {report.hard_negatives_flagged})  "
        f"exact match {report.exact_matches}/{report.messages}",
        "",
        f"{'flag':<22}{'precision':>10}{'recall':>8}{'f1':>7}{'support':>9}{'tp':>6}{'fp':>5}{'fn':>5}{'tn':>6}",
    ]
    for score in report.scores.values():
        lines.append(
            f"{score.flag:<22}{score.precision:>10.3f}{score.recall:>8.3f}{score.f1:>7.3f}{score.support:>9}"
            f"{score.true_positives:>6}{score.false_positives:>5}{score.false_negatives:>5}{score.true_negatives:>6}"
        )
    if throughput is not None:
        lines += [
            "",
            f"detector speed, one thread: {throughput.messages_per_cpu_second:,.0f} messages per CPU second "
            f"({throughput.messages_per_wall_second:,.0f} per wall-clock second on this machine now); "
            f"per message mean {throughput.mean_us:.1f} us, p99 {throughput.p99_us:.1f} us CPU",
        ]
    return "\n".join(lines)


def format_misses(misses: Iterable[Miss]) -> str:
    rows = []
    for miss in misses:
        want = ",".join(sorted(miss.message.flags)) or "-"
        got = ",".join(sorted(miss.detected)) or "-"
        rows.append(f"want {want:<40} got {got:<40} {miss.message.text}")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/session/flag_quality.py", description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_SET, help="labelled JSON-lines set")
    parser.add_argument("--config", type=Path, help="MessageFlagConfig JSON (default: <set>.config.json)")
    parser.add_argument("--errors", action="store_true", help="list every message the detector got wrong")
    parser.add_argument("--seconds", type=float, default=1.0, help="how long to time the detector")
    args = parser.parse_args(argv)
    messages = load_labelled(args.path)
    config = load_config(args.config) if args.config else config_for(args.path)
    report = evaluate(messages, config=config)
    throughput = measure_throughput([m.text for m in messages], config=config, min_seconds=args.seconds)
    print(format_report(report, throughput))
    if args.errors and report.misses:
        print("\n" + format_misses(report.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
