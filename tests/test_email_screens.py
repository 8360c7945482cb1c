"""The owner's email as a phone and a desktop show it: rendered by a real headless Chromium at
420 and 1024 px, in all five languages, with and without the outcome buttons.

One Chromium run lays out every email side by side (each in an iframe of the width under
test, on a page of the test's own: the email itself carries no script) and reports what it
measured; the facts checked are layout facts, not file sizes: nothing wider than the screen,
every button at least 44 px tall and wide, the summary the first text. Then one screenshot
per language at 420 px is kept as an artefact (and, with UPDATE_SCREENS=1, in docs/screens/
for the README). Skipped where Chromium is not installed (.ci/run installs it).
"""

from __future__ import annotations

import html
import json
import os
import shutil
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from conftest import TODAY
from test_render import INBOX, anna, computed, new_lead, replies_for

from sheetfollow.config import CalendarConfig, Config, EmailConfig
from sheetfollow.fields import LANGUAGES
from sheetfollow.models import Outcome, Prospect, Row, Stage
from sheetfollow.notify.message import Message
from sheetfollow.notify.render import owner_message

CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (.ci/run installs it)")

#: A phone held upright (an iPhone Pro Max is 430 px wide, most Android phones 360-412 px).
PHONE = 420
DESKTOP = 1024
#: Apple's and Google's smallest comfortable tap target, in CSS pixels.
TAP = 44
DOCS = Path(__file__).resolve().parents[1] / "docs" / "screens"
#: The README's pictures: the summary and the first cards, not the whole email.
DOCS_HEIGHT = 1400

CONFIG = Config(
    sheet="pipeline.xlsx",
    timezone="Europe/Amsterdam",
    calendar=CalendarConfig(country="NL"),
    email=EmailConfig(
        currency="EUR", sheet_url="https://contoso.sharepoint.com/:x:/r/sites/sales/Pipeline.xlsx"
    ),
)


def a_morning() -> list[Row]:
    """What an owner's morning looks like: overdue calls, today's, a quote to chase, a
    thank-you after a sale, a delegated row, and the names and addresses that break layouts:
    long, unbroken, not ASCII."""
    quote = {"owner": "Anna", "stage": Stage.QUOTE, "created": date(2026, 2, 1)}
    return computed(
        new_lead(
            2,
            "Brick & <Co>",
            date(2026, 3, 2),
            id="P-0002",
            contact="Bert Brick",
            phone="+31 20 555 0102",
            value=20000,
            notes="Met at the trade fair in Utrecht; wants a demo of the large model before the "
            "budget round in April. Ask for Bert, not the switchboard.",
        ),
        new_lead(
            3,
            "Vereinigte Werkzeugmaschinenfabriken Oberschwaben-Allgäu Aktiengesellschaft",
            date(2026, 3, 9),
            id="P-0003",
            contact="Dr. Hans-Joachim Müller-Lüdenscheidt",
            phone="+49 751 555 0103",
            email="hans-joachim.mueller-luedenscheidt@werkzeugmaschinenfabriken-oberschwaben.example",
            value=250000,
        ),
        Prospect(
            4,
            id="P-0004",
            company="Interessiert GmbH",
            contact="Ines Interessiert",
            phone="+49 30 555 0104",
            owner="Anna",
            stage=Stage.INTERESTED,
            value=7300,
            created=date(2026, 2, 1),
            last_contact=date(2026, 3, 10),
            last_outcome=Outcome.INTERESTED,
        ),
        new_lead(
            5,
            "Acme Tools",
            TODAY,
            id="P-0001",
            contact="Ann Archer",
            phone="020 555 0101",
            email="ann@acme.example",
            value=5000,
        ),
        Prospect(
            6,
            id="P-0005",
            company="Ølstrøm & Søn ApS",
            contact="Søren Ølstrøm",
            phone="+45 33 55 01 05",
            value=12000,
            last_contact=date(2026, 3, 6),
            last_outcome=Outcome.QUOTE_SENT,
            **quote,  # type: ignore[arg-type]
        ),
        Prospect(
            7,
            id="P-0006",
            company="Ñandú Logística S.L.",
            contact="María José Ibáñez",
            phone="+34 91 555 0106",
            owner="Anna",
            stage=Stage.WON,
            value=8000,
            last_contact=date(2026, 3, 10),
            last_outcome=Outcome.WON,
        ),
        new_lead(
            8,
            "Zeta-Supercalifragilisticexpialidociousandevenlongerwordwithoutanybreakatall",
            TODAY,
            owner="Zoë",
            id="P-0007",
            contact="Zoë's contact",
            phone="+31 6 5550 0107",
        ),
        Prospect(
            9,
            id="P-0008",
            company="Delta Dienstleistungen",
            contact="Dirk Delta",
            phone="06 12345678",
            value=800,
            last_contact=date(2026, 3, 10),
            last_outcome=Outcome.QUOTE_SENT,
            **quote,  # type: ignore[arg-type]
        ),
    )


@dataclass(frozen=True)
class Shown:
    """One email at one width."""

    name: str
    message: Message
    width: int


def emails() -> list[Shown]:
    rows = a_morning()
    shown = []
    for language in LANGUAGES:
        for buttons in (True, False):
            message = owner_message(
                anna(language),
                rows,
                today=TODAY,
                config=CONFIG,
                sheet="pipeline.xlsx",
                replies=replies_for(rows) if buttons else None,
            )
            assert message is not None
            name = f"owner-{language}{'' if buttons else '-commands'}"
            shown += [Shown(f"{name}-{width}", message, width) for width in (PHONE, DESKTOP)]
    return shown


#: Runs in the test's page (never in an email): measures each iframe's document.
MEASURE = """
window.addEventListener("load", function () {
  var facts = {};
  document.querySelectorAll("iframe").forEach(function (frame) {
    var doc = frame.contentDocument, root = doc.documentElement, width = root.clientWidth;
    var wide = [];
    doc.body.querySelectorAll("*").forEach(function (el) {
      var box = el.getBoundingClientRect();
      if (box.width > 0 && (box.right > width + 0.5 || box.left < -0.5)) {
        wide.push(el.tagName + ": " + (el.textContent || "").trim().slice(0, 60));
      }
    });
    var buttons = [];
    doc.querySelectorAll("a[href^='mailto:" + INBOX + "']").forEach(function (a) {
      var box = a.getBoundingClientRect();
      buttons.push([a.textContent, box.width, box.height]);
    });
    facts[frame.id] = {
      clientWidth: width,
      scrollWidth: root.scrollWidth,
      height: Math.ceil(doc.body.getBoundingClientRect().bottom),
      wide: wide.slice(0, 5),
      buttons: buttons,
      firstLine: doc.body.innerText.trim().split("\\n")[0],
    };
  });
  document.getElementById("facts").textContent = JSON.stringify(facts);
});
"""


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(CHROMIUM),
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every email laid out by Chromium: the folder of the artefacts, and per email what
    Chromium measured."""
    folder = tmp_path_factory.mktemp("screens")
    shown = emails()
    frames = "\n".join(
        f'<iframe id="{s.name}" style="display:block;border:0;width:{s.width}px;height:9000px" '
        f'srcdoc="{html.escape(s.message.html, quote=True)}"></iframe>'
        for s in shown
    )
    page = folder / "measure.html"
    page.write_text(
        f'<!DOCTYPE html><html><body style="margin:0"><pre id="facts"></pre>{frames}'
        f"<script>var INBOX = {json.dumps(INBOX)};{MEASURE}</script></body></html>",
        encoding="utf-8",
    )
    for s in shown:
        (folder / f"{s.name.rsplit('-', 1)[0]}.html").write_text(s.message.html, encoding="utf-8")
    done = chromium(
        "--window-size=1100,900", "--dump-dom", page.as_uri(), profile=folder / "profile"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (facts,) = lxml.html.fromstring(done.stdout).xpath("//pre[@id='facts']")
    measured: dict[str, Any] = json.loads(facts.text_content())
    assert set(measured) == {s.name for s in shown}
    yield folder, measured


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("buttons", [True, False], ids=["buttons", "commands"])
@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_is_wider_than_the_screen(
    rendered: tuple[Path, dict[str, Any]], language: str, buttons: bool, width: int
) -> None:
    _, measured = rendered
    facts = measured[f"owner-{language}{'' if buttons else '-commands'}-{width}"]
    assert facts["clientWidth"] == width
    assert facts["scrollWidth"] <= width, facts["wide"]
    assert facts["wide"] == []


@pytest.mark.parametrize("width", [PHONE, DESKTOP])
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_button_is_large_enough_to_tap(
    rendered: tuple[Path, dict[str, Any]], language: str, width: int
) -> None:
    _, measured = rendered
    buttons = measured[f"owner-{language}-{width}"]["buttons"]
    # Seven calls overdue or today: five with eight outcomes (three of them call back), a
    # quote to send with seven, a thank-you with two.
    assert len(buttons) == 5 * 8 + 7 + 2
    small = [(label, w, h) for label, w, h in buttons if w < TAP or h < TAP]
    assert small == []
    assert measured[f"owner-{language}-commands-{width}"]["buttons"] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_summary_is_the_first_thing_read(
    rendered: tuple[Path, dict[str, Any]], language: str
) -> None:
    _, measured = rendered
    summary = emails_by_name()[f"owner-{language}-{PHONE}"].message.text.splitlines()[0]
    for width in (PHONE, DESKTOP):
        assert measured[f"owner-{language}-{width}"]["firstLine"] == summary


def emails_by_name() -> dict[str, Shown]:
    return {s.name: s for s in emails()}


def test_screenshots_at_phone_width(rendered: tuple[Path, dict[str, Any]]) -> None:
    """One picture per language at 420 px (and the English one at 1024 px), as tall as the
    email: artefacts to look at. With UPDATE_SCREENS=1, the first screens of each (what a
    phone shows before scrolling twice) become the README's pictures in docs/screens/."""
    folder, measured = rendered
    shots = [(language, PHONE) for language in LANGUAGES] + [("en", DESKTOP)]
    for language, width in shots:
        name = f"owner-{language}-{width}"
        height = min(int(measured[name]["height"]) + 16, 8000)
        picture = folder / f"{name}.png"
        source = folder / f"owner-{language}.html"
        done = chromium(
            f"--window-size={width},{height}",
            f"--screenshot={picture}",
            source.as_uri(),
            profile=folder / "profile",
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert png_size(picture) == (width, height)
        if os.environ.get("UPDATE_SCREENS") and width == PHONE:
            DOCS.mkdir(parents=True, exist_ok=True)
            top = DOCS / f"owner-{language}.png"
            done = chromium(
                f"--window-size={width},{DOCS_HEIGHT}",
                f"--screenshot={top}",
                source.as_uri(),
                profile=folder / "profile",
            )
            assert done.returncode == 0, done.stderr[-2000:]


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height
