"""Regenerate templates/example.xlsx, the demo workbook `sheetfollow init --example` copies.

    python tests/data/make_example.py

The content is drawn from one seeded random.Random, so every run builds the same cells. Dates
are written relative to starter.EXAMPLE_ANCHOR; write_example moves them to the user's today.
The owned columns (Next follow-up, Status, Step, Why, Assigned to) stay empty: filling them is
the tool's job. A handful of rows are broken on purpose, so the demo also shows what "needs
attention" looks like.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from random import Random

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__" and str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from sheetfollow.fields import ALL_FIELDS, LOG_FIELDS, OWNER_FIELDS  # noqa: E402
from sheetfollow.models import Channel, Outcome, Stage  # noqa: E402
from sheetfollow.starter import EXAMPLE_ANCHOR, append_row, new_workbook  # noqa: E402
from sheetfollow.vocab import CHANNEL_NAMES, OUTCOME_NAMES, STAGE_NAMES  # noqa: E402

OUTPUT = ROOT / "templates" / "example.xlsx"
SEED = 20261120
A = EXAMPLE_ANCHOR  # a Friday

SEGMENTS = ("consumables", "capital goods", "services")
#: Business days between attempts, as the shipped config's profiles have them.
GAPS = {"consumables": (2, 5, 7, 7), "services": (2, 5, 7, 7), "capital goods": (3, 7, 10, 15)}


# --- People and places ------------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    name: str
    email: str
    language: str
    country: str
    delegate: str = ""
    manager: str = ""
    digest: bool = False


OWNERS = (
    Owner("Anna", "anna@example.com", "nl", "NL", manager="Sarah"),
    Owner("Jonas", "jonas@example.com", "de", "DE", manager="Sarah"),
    Owner("Mette", "mette@example.com", "da", "DK", manager="Sarah"),
    Owner("Lucía", "lucia@example.com", "es", "ES", manager="Sarah"),
    # The manager sells too, hands her small deals to Anna and gets the team digest.
    Owner("Sarah", "sarah@example.com", "en", "GB", delegate="Anna", digest=True),
)
OWNER_WEIGHTS = (50, 40, 35, 35, 32)


@dataclass(frozen=True)
class Market:
    """What companies and people look like in one country."""

    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    forms: tuple[str, ...]
    places: tuple[str, ...]
    trades: dict[str, tuple[str, ...]]
    #: "{name}" a surname, "{trade}", "{place}", "{form}".
    patterns: tuple[str, ...]
    phone: Callable[[Random], str]


def words(text: str) -> tuple[str, ...]:
    """ "de Vries, Jansen" -> ("de Vries", "Jansen"): long lists of names, compactly."""
    return tuple(text.split(", "))


def _digits(rng: Random, n: int) -> str:
    """n random digits; subscriber numbers never start with 0 or 1."""
    return str(rng.randrange(2, 10)) + "".join(str(rng.randrange(10)) for _ in range(n - 1))


def _nl_phone(rng: Random) -> str:
    area = rng.choice(["20", "10", "30", "40", "50", "70", "73", "76", "38", "55"])
    a, b = _digits(rng, 3), _digits(rng, 4)
    return rng.choice(
        [f"+31 {area} {a} {b}", f"0{area}-{a}{b}", f"0{area} {a} {b}", f"06-{_digits(rng, 8)}"]
    )


def _de_phone(rng: Random) -> str:
    area = rng.choice(["30", "40", "89", "221", "69", "711", "511", "521", "341", "421"])
    local = _digits(rng, 7 if len(area) == 2 else 6)
    return rng.choice(
        [
            f"+49 {area} {local}",
            f"0049 {area} {local}",
            f"0{area} {local}",
            f"0{area}/{local}",
            f"+49 171 {_digits(rng, 7)}",
        ]
    )


def _dk_phone(rng: Random) -> str:
    n = _digits(rng, 8)
    return rng.choice(
        [f"+45 {n[:2]} {n[2:4]} {n[4:6]} {n[6:]}", n, f"0045 {n[:4]} {n[4:]}", f"+45 {n}"]
    )


def _es_phone(rng: Random) -> str:
    n = rng.choice("96") + _digits(rng, 8)
    return rng.choice(
        [f"+34 {n[:3]} {n[3:6]} {n[6:]}", n, f"0034 {n[:3]} {n[3:5]} {n[5:7]} {n[7:]}"]
    )


def _gb_phone(rng: Random) -> str:
    # Ofcom's ranges for drama: never a real subscriber.
    tail = _digits(rng, 3)
    return rng.choice(
        [f"+44 20 7946 0{tail}", f"020 7946 0{tail}", f"07700 900{tail}", f"0113 496 0{tail}"]
    )


MARKETS: dict[str, Market] = {
    "NL": Market(
        words(
            "Jan, Sanne, Pieter, Lotte, Daan, Femke, Bram, Eva, Ruben, Anouk, Thijs, "
            "Marieke, Joost, Ingrid, Kees"
        ),
        words(
            "de Vries, Jansen, Bakker, Visser, Smit, Meijer, de Boer, Mulder, de Groot, "
            "Bos, Vos, Peters, Hendriks, van Leeuwen, Dekker, Brouwer, van Dijk, Kok, "
            "Verhoeven, van den Berg"
        ),
        words("B.V."),
        words(
            "Zwolle, Eindhoven, Utrecht, Breda, Groningen, Delft, Tilburg, Apeldoorn, "
            "Haarlem, Venlo"
        ),
        {
            "consumables": words(
                "Verpakkingen, Schoonmaakmiddelen, Kantoorartikelen, "
                "Bevestigingsmaterialen, Laboratoriumbenodigdheden"
            ),
            "capital goods": words(
                "Machinebouw, Metaalbewerking, Installatietechniek, Transportsystemen, Koeltechniek"
            ),
            "services": words(
                "Logistiek, Facilitair Beheer, Advies, Schoonmaakdiensten, IT Diensten"
            ),
        },
        words("{name} {trade} {form}, {trade} {place} {form}"),
        _nl_phone,
    ),
    "DE": Market(
        words(
            "Thomas, Anna, Michael, Julia, Stefan, Katrin, Andreas, Sabine, Markus, "
            "Claudia, Jörg, Birgit, Florian, Lena, Uwe"
        ),
        words(
            "Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schulz, "
            "Hoffmann, Koch, Richter, Klein, Wolf, Schröder, Neumann, Braun, Zimmermann, "
            "Krüger, Hartmann"
        ),
        words("GmbH, GmbH & Co. KG, AG"),
        words(
            "Bielefeld, Stuttgart, Leipzig, Hannover, Augsburg, Dortmund, Kassel, Ulm, "
            "Bremen, Nürnberg"
        ),
        {
            "consumables": words(
                "Verpackungen, Reinigungsmittel, Bürobedarf, Befestigungstechnik, Laborbedarf"
            ),
            "capital goods": words(
                "Maschinenbau, Metallbau, Anlagentechnik, Fördertechnik, Kältetechnik"
            ),
            "services": words("Logistik, Gebäudeservice, Beratung, IT-Service, Personaldienste"),
        },
        words("{name} {trade} {form}, {trade} {place} {form}"),
        _de_phone,
    ),
    "DK": Market(
        words(
            "Lars, Mette, Søren, Camilla, Henrik, Louise, Anders, Maja, Jesper, "
            "Pernille, Mads, Rikke, Thomas, Helle, Niels"
        ),
        words(
            "Nielsen, Jensen, Hansen, Pedersen, Andersen, Christensen, Larsen, Sørensen, "
            "Rasmussen, Jørgensen, Petersen, Madsen, Kristensen, Olsen, Thomsen"
        ),
        words("ApS, A/S"),
        words(
            "Aarhus, Odense, Aalborg, Esbjerg, Vejle, Randers, Kolding, Horsens, Herning, Roskilde"
        ),
        {
            "consumables": words("Emballage, Rengøring, Kontorartikler, Beslag, Laboratorieudstyr"),
            "capital goods": words(
                "Maskinfabrik, Stålindustri, Automation, Køleteknik, Transportanlæg"
            ),
            "services": words("Logistik, Ejendomsservice, Rådgivning, IT-Service, Vikarservice"),
        },
        words("{name} {trade} {form}, {place} {trade} {form}"),
        _dk_phone,
    ),
    "ES": Market(
        words(
            "Javier, María, Carlos, Laura, Antonio, Carmen, David, Isabel, Pablo, Elena, "
            "Sergio, Marta, Alberto, Cristina, Jorge"
        ),
        words(
            "García, Fernández, González, Rodríguez, López, Martínez, Sánchez, Pérez, "
            "Gómez, Martín, Jiménez, Ruiz, Hernández, Díaz, Moreno, Álvarez, Romero, "
            "Navarro, Torres, Domínguez"
        ),
        words("S.L., S.A."),
        words("Levante, Norte, Mediterráneo, Ebro, Sur, Cantábrico, Centro"),
        {
            "consumables": words(
                "Embalajes, Suministros Industriales, Limpiezas, Papelería, Ferretería"
            ),
            "capital goods": words(
                "Maquinaria, Talleres Metálicos, Automatismos, Frío Industrial, Estructuras"
            ),
            "services": words(
                "Logística, Servicios Integrales, Consultoría, Informática, Mantenimiento"
            ),
        },
        words("{trade} {name} {form}, {trade} del {place} {form}"),
        _es_phone,
    ),
    "GB": Market(
        words(
            "James, Emma, Oliver, Sophie, Daniel, Charlotte, Matthew, Hannah, Thomas, "
            "Rachel, Andrew, Claire, Richard, Laura, Simon"
        ),
        words(
            "Smith, Jones, Taylor, Brown, Williams, Wilson, Johnson, Davies, Robinson, "
            "Wright, Thompson, Evans, Walker, White, Roberts, Green, Hall, Wood, "
            "Jackson, Clarke"
        ),
        words("Ltd, Ltd, Ltd, plc"),
        words(
            "Leeds, Bristol, Sheffield, Midlands, Norwich, Reading, Derby, Swindon, Preston, York"
        ),
        {
            "consumables": words(
                "Packaging, Cleaning Supplies, Office Supplies, Fixings, Lab Supplies"
            ),
            "capital goods": words(
                "Engineering, Fabrications, Automation, Refrigeration, Conveyor Systems"
            ),
            "services": words("Logistics, Facilities, Consulting, IT Services, Recruitment"),
        },
        words("{name} {trade} {form}, {place} {trade} {form}"),
        _gb_phone,
    ),
}


# --- Touches and rows -------------------------------------------------------------------------


@dataclass
class Touch:
    day: date
    outcome: Outcome
    channel: Channel
    note: str
    next_follow_up: date | None = None


@dataclass
class Prospect:
    owner: Owner
    company: str
    contact: str
    email: str
    phone: str
    segment: str
    value: int
    created: date
    stage: Stage
    touches: list[Touch] = field(default_factory=list)
    attempts: int | None = None
    follow_up_on: date | None = None
    notes: str = ""
    #: Cells overwritten with what a person might really type by mistake.
    broken: dict[str, object] = field(default_factory=dict)
    with_id: bool = True


def workdays_before(day: date, n: int) -> date:
    """n working days (Mon-Fri) before day."""
    while n > 0:
        day -= timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def workdays_after(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


NOTES: dict[Outcome, tuple[str, ...]] = {
    Outcome.NO_ANSWER: ("No answer", "Rang out", "Switchboard: not at desk", "Line busy"),
    Outcome.VOICEMAIL: (
        "Left voicemail",
        "Left a message asking for a call back",
        "Voicemail, mentioned the trial offer",
    ),
    Outcome.REACHED: (
        "Spoke briefly, sending product sheet",
        "Reached, decision after budget",
        "Talked to the buyer, wants to think it over",
        "Reached, asked to follow up in a week",
    ),
    Outcome.INTERESTED: (
        "Interested, wants a demo",
        "Asked for references",
        "Interested in a trial order",
        "Wants to see samples",
    ),
    Outcome.CALL_BACK: (
        "Call back after the budget meeting",
        "Asked to call back next month",
        "On holiday, call back when back",
        "Call back after the trade fair",
    ),
    Outcome.QUOTE_SENT: (
        "Quote sent",
        "Quote sent, volume discount included",
        "Revised quote sent",
        "Quote sent with delivery schedule",
    ),
    Outcome.WON: ("Order received", "Signed, first delivery planned", "Won: annual contract"),
    Outcome.DELIVERED: ("Delivered", "Delivered and installed", "First delivery done"),
    Outcome.LOST: (
        "Went with a competitor on price",
        "Project cancelled",
        "Lost: delivery time too long",
    ),
    Outcome.NOT_INTERESTED: (
        "Not interested: in-house solution",
        "Not interested",
        "No need, happy with current supplier",
    ),
}

LEAD_NOTES = (
    "Web form: asked for a price list",
    "Met at the trade fair stand",
    "Referral from an existing customer",
    "Downloaded the brochure",
    "Inbound call, wants a callback",
    "LinkedIn reply",
)


class Generator:
    """Draws every prospect from one seeded stream; the order of draws is the content."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = Random(seed)
        self.companies: list[str] = []

    # -- people ------------------------------------------------------------------------------

    def owner(self) -> Owner:
        return self.rng.choices(OWNERS, weights=OWNER_WEIGHTS)[0]

    def company(self, market: Market, segment: str) -> str:
        for _ in range(100):
            name = self.rng.choice(market.patterns).format(
                name=self.rng.choice(market.last_names),
                trade=self.rng.choice(market.trades[segment]),
                place=self.rng.choice(market.places),
                form=self.rng.choice(market.forms),
            )
            name = name[0].upper() + name[1:]
            if name not in self.companies:
                self.companies.append(name)
                return name
        raise RuntimeError("ran out of company names")

    def prospect(self, stage: Stage, created: date, owner: Owner | None = None) -> Prospect:
        rng = self.rng
        owner = owner or self.owner()
        market = MARKETS[owner.country]
        segment = rng.choices(SEGMENTS, weights=(45, 25, 30))[0]
        company = self.company(market, segment)
        first, last = rng.choice(market.first_names), rng.choice(market.last_names)
        domain = slug(company) + ".example"
        person = f"{slug(first)}.{slug(last).replace('-', '')}"
        email = rng.choices([f"{person}@{domain}", f"info@{domain}", ""], weights=(80, 10, 10))[0]
        phone = market.phone(rng) if rng.random() < 0.95 else ""
        return Prospect(
            owner=owner,
            company=company,
            contact=f"{first} {last}",
            email=email,
            phone=phone,
            segment=segment,
            value=self.value(segment),
            created=created,
            stage=stage,
        )

    def value(self, segment: str) -> int:
        low, high, step = {
            "consumables": (500, 12000, 50),
            "services": (2000, 60000, 100),
            "capital goods": (15000, 250000, 500),
        }[segment]
        return self.rng.randrange(low, high + 1, step)

    def note(self, outcome: Outcome) -> str:
        return self.rng.choice(NOTES[outcome])

    def channel(self, weights: tuple[int, int, int] = (80, 15, 5)) -> Channel:
        return self.rng.choices((Channel.PHONE, Channel.EMAIL, Channel.VISIT), weights=weights)[0]

    # -- histories ---------------------------------------------------------------------------

    def unanswered_run(self, p: Prospect, count: int, last: date) -> None:
        """`count` unanswered attempts ending on `last`, spaced like the cadence."""
        gaps = GAPS[p.segment]
        days = [last]
        for k in range(count - 1, 0, -1):
            days.insert(0, workdays_before(days[0], gaps[min(k - 1, len(gaps) - 1)]))
        for k, day in enumerate(days):
            outcome = self.rng.choice((Outcome.NO_ANSWER, Outcome.NO_ANSWER, Outcome.VOICEMAIL))
            planned = workdays_after(day, gaps[min(k, len(gaps) - 1)])
            channel = self.channel((85, 15, 0))  # nobody drives out to find nobody in
            p.touches.append(Touch(day, outcome, channel, self.note(outcome), planned))
        p.created = min(p.created, workdays_before(days[0], self.rng.randrange(0, 3)))

    def conversation(self, p: Prospect, outcomes: list[Outcome], last: date, step: int) -> None:
        """Touches that got through, `step` working days apart, ending on `last`."""
        day = last
        days = [day]
        for _ in outcomes[1:]:
            day = workdays_before(day, step)
            days.insert(0, day)
        follow_ups = {
            Outcome.REACHED: 5,
            Outcome.INTERESTED: 5,
            Outcome.QUOTE_SENT: 3,
            Outcome.WON: 1,
            Outcome.DELIVERED: 5,
        }
        for day, outcome in zip(days, outcomes, strict=True):
            gap = follow_ups.get(outcome)
            planned = workdays_after(day, gap) if gap else None
            channel = (
                Channel.VISIT
                if p.segment == "capital goods" and self.rng.random() < 0.3
                else self.channel()
            )
            p.touches.append(Touch(day, outcome, channel, self.note(outcome), planned))
        p.created = min(p.created, workdays_before(days[0], self.rng.randrange(1, 10)))

    # -- scenarios ---------------------------------------------------------------------------

    def new_lead(self) -> Prospect:
        created = self.rng.choice((A, A, workdays_before(A, 1)))
        p = self.prospect(Stage.NEW, created)
        p.notes = self.rng.choice(LEAD_NOTES)
        return p

    def waiting_lead(self) -> Prospect:
        p = self.prospect(Stage.NEW, workdays_before(A, self.rng.randrange(2, 7)))
        p.notes = self.rng.choice(LEAD_NOTES)
        return p

    def unanswered(self, attempts: int) -> Prospect:
        p = self.prospect(Stage.CONTACTED, A)
        self.unanswered_run(p, attempts, workdays_before(A, self.rng.randrange(0, 9)))
        p.attempts = attempts
        return p

    def reached(self) -> Prospect:
        p = self.prospect(Stage.CONTACTED, A)
        earlier = self.rng.randrange(0, 3)
        last = workdays_before(A, self.rng.randrange(1, 10))
        self.conversation(p, [Outcome.REACHED], last, 3)
        if earlier:
            self.unanswered_run(p, earlier, workdays_before(last, 3))
            p.touches.sort(key=lambda t: t.day)
        p.attempts = 0
        return p

    def interested(self) -> Prospect:
        p = self.prospect(Stage.INTERESTED, A)
        last = workdays_before(A, self.rng.randrange(1, 12))
        self.conversation(p, [Outcome.REACHED, Outcome.INTERESTED], last, 4)
        p.attempts = 0
        return p

    def quote(self) -> Prospect:
        p = self.prospect(Stage.QUOTE, A)
        last = workdays_before(A, self.rng.randrange(1, 12))
        self.conversation(p, [Outcome.REACHED, Outcome.INTERESTED, Outcome.QUOTE_SENT], last, 5)
        p.attempts = 0
        p.notes = f"Quote Q-2026-{self.rng.randrange(100, 999)}"
        return p

    def call_back(self, on: date | None) -> Prospect:
        p = self.prospect(self.rng.choice((Stage.CONTACTED, Stage.INTERESTED)), A)
        # The call in which they asked for a call back came before the day they chose.
        last = workdays_before(min(on or A, A), self.rng.randrange(1, 15))
        self.conversation(p, [Outcome.REACHED, Outcome.CALL_BACK], last, 5)
        p.touches[-1].next_follow_up = on
        p.follow_up_on = on
        p.attempts = 0
        return p

    def won(self) -> Prospect:
        p = self.prospect(Stage.WON, A)
        last = workdays_before(A, self.rng.randrange(1, 8))
        outcomes = [Outcome.REACHED, Outcome.QUOTE_SENT, Outcome.WON]
        self.conversation(p, outcomes, last, 6)
        p.attempts = 0
        return p

    def delivered(self) -> Prospect:
        p = self.prospect(Stage.DELIVERED, A)
        last = workdays_before(A, self.rng.randrange(2, 9))
        outcomes = [Outcome.REACHED, Outcome.QUOTE_SENT, Outcome.WON, Outcome.DELIVERED]
        self.conversation(p, outcomes, last, 8)
        p.attempts = 0
        return p

    def customer(self) -> Prospect:
        p = self.prospect(Stage.CUSTOMER, A)
        last = workdays_before(A, self.rng.randrange(20, 220))
        # The check-in call after the delivery was made: a customer's last touch is a call.
        outcomes = [Outcome.REACHED, Outcome.QUOTE_SENT, Outcome.WON, Outcome.DELIVERED]
        outcomes.append(Outcome.REACHED)
        self.conversation(p, outcomes, last, 12)
        p.attempts = 0
        p.notes = self.rng.choice(("Repeat orders every quarter", "Key account", "", ""))
        return p

    def lost(self, revisit: date | None) -> Prospect:
        p = self.prospect(Stage.LOST, A)
        last = workdays_before(A, self.rng.randrange(5, 80))
        self.conversation(p, [Outcome.REACHED, Outcome.QUOTE_SENT, Outcome.LOST], last, 7)
        p.touches[-1].next_follow_up = revisit
        p.follow_up_on = revisit
        p.attempts = 0
        if revisit:
            p.notes = "Revisit when their current contract ends"
        return p

    def not_interested(self) -> Prospect:
        p = self.prospect(Stage.NOT_INTERESTED, A)
        last = workdays_before(A, self.rng.randrange(3, 100))
        self.unanswered_run(p, self.rng.randrange(1, 3), workdays_before(last, 5))
        self.conversation(p, [Outcome.NOT_INTERESTED], last, 5)
        p.attempts = 0
        return p

    def stale(self) -> Prospect:
        p = self.prospect(Stage.CONTACTED, A)
        self.unanswered_run(p, 2, workdays_before(A, self.rng.randrange(75, 110)))
        p.attempts = 2
        return p

    # -- the whole sheet ---------------------------------------------------------------------

    def prospects(self) -> list[Prospect]:
        rows: list[Prospect] = []
        rows += [self.new_lead() for _ in range(8)]
        rows += [self.waiting_lead() for _ in range(6)]
        for attempts, count in ((1, 20), (2, 17), (3, 12), (4, 9), (5, 8)):
            rows += [self.unanswered(attempts) for _ in range(count)]
        rows += [self.reached() for _ in range(15)]
        rows += [self.interested() for _ in range(15)]
        rows += [self.quote() for _ in range(15)]
        future = [workdays_after(A, n) for n in (3, 5, 8, 12, 20, 30, 45, 60)]
        for on in [*future, workdays_before(A, 1), workdays_before(A, 3), A, A]:
            rows.append(self.call_back(on))
        rows += [self.won() for _ in range(8)]
        rows += [self.delivered() for _ in range(6)]
        rows += [self.customer() for _ in range(15)]
        for n in (60, 90, 120, 180, 200):
            rows.append(self.lost(A + timedelta(days=n)))
        rows += [self.lost(None) for _ in range(5)]
        rows += [self.not_interested() for _ in range(10)]
        rows += [self.stale() for _ in range(6)]
        rows += self.broken()
        return rows

    def broken(self) -> list[Prospect]:
        """Rows with the mistakes people make, each in one cell."""
        text_date = self.call_back(None)
        text_date.broken["follow_up_on"] = "next tuesday"
        odd_outcome = self.reached()
        odd_outcome.broken["last_outcome"] = "maybe later"
        no_owner = self.new_lead()
        no_owner.broken["owner"] = ""
        word_count = self.unanswered(3)
        word_count.broken["attempts"] = "three"
        word_value = self.interested()
        word_value.broken["value"] = "lots"
        no_date = self.call_back(None)
        future = self.reached()
        future.broken["last_contact"] = A + timedelta(days=10)
        stranger = self.unanswered(2)
        stranger.broken["owner"] = "Pieter"
        return [text_date, odd_outcome, no_owner, word_count, word_value, no_date, future, stranger]


#: Legal forms, longest first, so "GmbH & Co. KG" goes before "GmbH" would.
FORMS = sorted({form for market in MARKETS.values() for form in market.forms}, key=len)[::-1]


def slug(text: str) -> str:
    """A domain-like name: "Müller Maschinenbau GmbH" -> "muller-maschinenbau"."""
    for form in FORMS:
        if text.endswith(" " + form):
            text = text[: -len(form) - 1]
            break
    folded = unicodedata.normalize("NFKD", text.replace("ø", "o").replace("æ", "ae"))
    ascii_text = folded.encode("ascii", "ignore").decode().lower()
    return "-".join("".join(ch if ch.isalnum() else " " for ch in ascii_text).split())


# --- Writing ------------------------------------------------------------------------------------


def prospect_cells(p: Prospect, row_id: str | None) -> dict[str, object]:
    last = p.touches[-1] if p.touches else None
    cells: dict[str, object] = {
        "id": row_id,
        "company": p.company,
        "contact": p.contact,
        "email": p.email,
        "phone": p.phone,
        "owner": p.owner.name,
        "stage": STAGE_NAMES["en"][p.stage],
        "segment": p.segment,
        "value": p.value,
        "created": p.created,
        "last_contact": last.day if last else None,
        "last_outcome": OUTCOME_NAMES["en"][last.outcome] if last else None,
        "attempts": p.attempts,
        "follow_up_on": p.follow_up_on,
        "channel": CHANNEL_NAMES["en"][last.channel] if last else None,
        "notes": p.notes or (last.note if last else ""),
    }
    cells.update(p.broken)
    return cells


def log_entries(rows: list[tuple[str | None, Prospect]], rng: Random) -> list[dict[str, object]]:
    """Every touch of every row, oldest first, as the Log tab records them."""
    entries: list[tuple[datetime, str, dict[str, object]]] = []
    for row_id, p in rows:
        for touch in p.touches:
            minutes = rng.randrange(8 * 60 + 30, 17 * 60 + 30, 5)
            when = datetime.combine(touch.day, time(minutes // 60, minutes % 60))
            entry: dict[str, object] = {
                "when": when,
                "id": row_id,
                "company": p.company,
                "by": p.broken.get("owner") or p.owner.name,
                "outcome": OUTCOME_NAMES["en"][touch.outcome],
                "channel": CHANNEL_NAMES["en"][touch.channel],
                "note": touch.note,
                "next_follow_up": touch.next_follow_up,
            }
            entries.append((when, p.company, entry))
    entries.sort(key=lambda item: item[:2])
    return [entry for _, _, entry in entries]


def build(path: Path, seed: int = SEED) -> None:
    """Write the example workbook to `path` (replacing it)."""
    generator = Generator(seed)
    people = sorted(generator.prospects(), key=lambda p: (p.created, p.company))
    numbered: list[tuple[str | None, Prospect]] = []
    workbook = new_workbook("en")
    prospects, log, owners = workbook.worksheets
    number = 0
    for p in people:
        # People type today's leads in without an ID; the tool numbers them on its next run.
        row_id = None
        if not (p.stage is Stage.NEW and p.created == A):
            number += 1
            row_id = f"P-{number:04d}"  # the width the tool continues with
        append_row(prospects, ALL_FIELDS, prospect_cells(p, row_id))
        numbered.append((row_id, p))
    for entry in log_entries(numbered, generator.rng):
        append_row(log, LOG_FIELDS, entry)
    for owner in OWNERS:
        append_row(owners, OWNER_FIELDS, owner_cells(owner))
    workbook.properties.creator = "sheetfollow"
    workbook.properties.created = workbook.properties.modified = datetime(2026, 11, 20)
    workbook.save(path)


def owner_cells(owner: Owner) -> dict[str, object]:
    return {
        "owner": owner.name,
        "email": owner.email,
        "delegate": owner.delegate,
        "language": owner.language,
        "country": owner.country,
        "manager": owner.manager,
        "digest": "yes" if owner.digest else "no",
    }


if __name__ == "__main__":
    build(OUTPUT)
    print(f"wrote {OUTPUT}")
