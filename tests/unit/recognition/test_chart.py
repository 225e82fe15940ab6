"""The programme report drawn with matplotlib (SVG and PNG)."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from kinship_recognition.adapters.chart import MatplotlibChart, render
from kinship_recognition.domain.reports import (
    CaseWeek,
    FeedbackWeek,
    ParticipationWeek,
    ProgrammeReport,
    PulseWeek,
    Sources,
    Timing,
    Window,
    build_report,
)

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
WINDOW = Window.closed(NOW, 3)
W1, W2, W3 = WINDOW.weeks()


def report(with_cases: bool = True) -> ProgrammeReport:
    participation = [
        ParticipationWeek(W1, 12),
        ParticipationWeek(W2, 4),  # withheld: a gap, not a zero
        ParticipationWeek(W3, 15),
    ]
    cases = [
        CaseWeek(W1, 6, 5, 5, Timing(60.0, 300.0), Timing(600.0, 900.0), {"supported": 5}),
        CaseWeek(W2, 4, 4, 4, Timing(30.0, 40.0), Timing(), {"supported": 4}),
    ]
    feedback = [FeedbackWeek(W1, "person", 5, 5, 4.4)]
    pulse = [PulseWeek(W3, 7, {"programme_helps": 4.285})]
    sources = Sources(
        WINDOW,
        20,
        participation,
        cases=cases if with_cases else [],
        feedback=feedback if with_cases else [],
        pulse=pulse if with_cases else [],
    )
    return build_report(sources, team_id=None, generated_at=NOW)


def svg_text(svg: bytes) -> str:
    root = ET.fromstring(svg)  # noqa: S314 (our own output)
    assert root.tag.endswith("svg")
    return " ".join(root.itertext())


def test_the_chart_is_an_svg_with_gaps_for_withheld_weeks() -> None:
    drawn = report()
    svg = render(drawn, "svg")
    text = svg_text(svg)
    assert "participation (%)" in text and "time to acknowledge (min)" in text
    assert "fewer than 5 people contributed are not shown" in text
    assert "2026-11-02 to 2026-11-22" in text
    assert "nothing to show" not in text
    assert render(drawn, "png").startswith(b"\x89PNG\r\n\x1a\n")


def test_a_panel_with_nothing_to_show_says_so() -> None:
    text = svg_text(render(report(with_cases=False), "svg"))
    assert "nothing to show: none yet, or fewer than 5 people each week" in text


async def test_the_renderer_draws_off_the_event_loop() -> None:
    drawn = await MatplotlibChart().render(report(), "svg")
    assert "time to acknowledge (min)" in svg_text(drawn)
    assert (await MatplotlibChart().render(report(), "png")).startswith(b"\x89PNG")
