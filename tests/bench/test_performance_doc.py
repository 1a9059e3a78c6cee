"""docs/performance.md's renderer: run records, the generated part, the hand-written part kept as it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench import performance_doc
from bench.performance_doc import (
    BEGIN,
    END,
    ROOT,
    RunRecord,
    RunStart,
    command_line,
    load_runs,
    main,
    nest_headings,
    render_generated,
    update_document,
)

T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)

OUTBOX = RunRecord(
    name="outbox_pipeline",
    title="Outbox pipeline",
    command=".venv/bin/python bench/outbox_pipeline.py --events 2000",
    started=T0,
    finished=T0 + timedelta(seconds=41),
    load_before=(0.42, 0.3, 0.2),
    load_after=(1.93, 0.8, 0.4),
    infra="Tansu (embedded), embedded PostgreSQL",
    markdown="# Outbox pipeline benchmark (2,000 events)\n\n| measure | events/s |\n|---|---:|\n| raw | 50,858 |\n",
)
SUITE = RunRecord(
    name="suite",
    title="Whole suite through its APIs",
    command=".venv/bin/python bench/suite/run.py",
    started=T0 + timedelta(minutes=2),
    finished=T0 + timedelta(minutes=6, seconds=30),
    load_before=(1.2, 1.0, 0.5),
    load_after=(3.4, 2.0, 1.0),
    infra="tansu 0.1.2, embedded PostgreSQL",
    markdown="# Rapport end-to-end benchmark\n\n## Events\n\n71 events/s\n",
)

HAND = """# Performance

Intro written by hand.

{BEGIN} -->
placeholder: no run yet
{END} -->

## Recorded runs (hand-written)

| fault | lost |
|---|---:|
| broker SIGKILL | 0 |
""".replace("{BEGIN}", BEGIN).replace("{END}", END)


def test_a_record_survives_its_json() -> None:
    assert RunRecord.from_json(OUTBOX.to_json()) == OUTBOX


def test_a_run_is_saved_with_its_load_before_and_after(tmp_path: Path) -> None:
    start = RunStart(".venv/bin/python bench/x.py", T0, (0.5, 0.4, 0.3))
    path = start.save(name="x", title="X", infra="Tansu", markdown="| a |\n", runs=tmp_path / "runs")
    assert path == tmp_path / "runs" / "x.json"
    [record] = load_runs(tmp_path / "runs")
    assert (record.title, record.command, record.markdown) == ("X", start.command, "| a |\n")
    assert record.load_before == (0.5, 0.4, 0.3)
    assert record.finished >= record.started
    assert len(record.load_after) == 3


def test_the_command_names_the_interpreter_relative_to_the_repository() -> None:
    assert command_line(["bench/x.py", "--n", "2 3"], str(ROOT / ".venv" / "bin" / "python")) == (
        ".venv/bin/python bench/x.py --n '2 3'"
    )
    assert command_line(["bench/x.py"], "/usr/bin/python3") == "/usr/bin/python3 bench/x.py"


def test_headings_nest_under_the_run_and_code_blocks_are_left_alone() -> None:
    text = "# Top\n\n## Sub\n\n```\n# not a heading\n```\n###### deep\n"
    assert nest_headings(text) == "#### Top\n\n##### Sub\n\n```\n# not a heading\n```\n###### deep"
    assert nest_headings("plain text\n") == "plain text"


def test_the_generated_part_has_date_machine_load_commands_and_every_table() -> None:
    text = render_generated([SUITE, OUTBOX], machine="2 CPUs, 24 GiB memory", rendered_at=T0 + timedelta(minutes=7))
    lines = text.splitlines()
    assert lines[0].startswith(BEGIN) and lines[-1].startswith(END)
    assert "Rendered 2026-12-03 09:07 UTC from 2 runs of one `./rapport bench`" in text
    assert "2 CPUs, 24 GiB memory" in text
    assert (
        "| Outbox pipeline | 2026-12-03 09:00 | 41 s | 0.4 / 1.9 | Tansu (embedded), embedded PostgreSQL | "
        "`.venv/bin/python bench/outbox_pipeline.py --events 2000` |" in lines
    )
    assert "| Whole suite through its APIs | 2026-12-03 09:02 | 4.5 min | 1.2 / 3.4 |" in text
    assert text.index("### Outbox pipeline") < text.index("### Whole suite through its APIs")  # by start time
    assert "#### Outbox pipeline benchmark (2,000 events)" in lines
    assert "| raw | 50,858 |" in lines
    assert "##### Events" in lines
    with pytest.raises(ValueError, match="no bench runs"):
        render_generated([], machine="m", rendered_at=T0)


def test_only_the_generated_part_is_replaced() -> None:
    generated = render_generated([OUTBOX], machine="m", rendered_at=T0)
    assert "from 1 run of one" in generated
    updated = update_document(HAND, generated)
    before, after = HAND.split(BEGIN)[0], HAND.split(END)[1].split("\n", 1)[1]
    assert updated.startswith(before)
    assert updated.endswith(after)
    assert "placeholder" not in updated
    assert generated in updated
    assert update_document(updated, generated) == updated  # rendering again changes nothing else


def test_a_document_without_its_markers_is_not_overwritten() -> None:
    with pytest.raises(ValueError, match="refusing to overwrite"):
        update_document("# Performance\n\nall hand-written\n", "generated")
    with pytest.raises(ValueError):
        update_document(f"{END} -->\n{BEGIN} -->\n", "generated")


def test_main_renders_the_recorded_runs_into_the_document(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs, doc = tmp_path / "runs", tmp_path / "performance.md"
    runs.mkdir()
    (runs / "outbox_pipeline.json").write_text(OUTBOX.to_json())
    (runs / "suite.json").write_text(SUITE.to_json())
    doc.write_text(HAND)
    assert main(["--runs", str(runs), "--doc", str(doc)]) == 0
    text = doc.read_text()
    assert "### Outbox pipeline" in text and "### Whole suite through its APIs" in text
    assert "| broker SIGKILL | 0 |" in text
    assert "rendered 2 runs" in capsys.readouterr().out


def test_main_without_runs_leaves_the_document_alone(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text(HAND)
    assert main(["--runs", str(tmp_path / "none"), "--doc", str(doc)]) == 1
    assert doc.read_text() == HAND


def test_the_repository_document_has_a_generated_part_for_the_bench() -> None:
    text = performance_doc.DOC.read_text(encoding="utf-8")
    assert update_document(text, "X\n").count("X\n") == 1
