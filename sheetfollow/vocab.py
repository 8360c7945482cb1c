"""The words of the sheet in English, Dutch, German, Danish and Spanish.

Two kinds of tables live here. The *names* (PROSPECT_HEADERS, STAGE_NAMES, ...) are what a
starter workbook in one language shows. The *aliases* (HEADER_ALIASES, OUTCOME_ALIASES, ...)
are what sheetfollow accepts when reading, in every language at once, so a team can mix
languages and keep the words it already uses. Aliases are stored normalised (see normalise).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from enum import Enum
from functools import lru_cache
from typing import TypeVar

from sheetfollow import fields
from sheetfollow.models import Channel, Outcome, Stage, Status

LANGS: tuple[str, ...] = fields.LANGUAGES

_T = TypeVar("_T")

# Letters NFKD leaves whole; people type them without the stroke as often as with it.
_TRANSLITERATE = str.maketrans(
    {"ø": "o", "æ": "ae", "œ": "oe", "ð": "d", "þ": "th", "ł": "l", "đ": "d", "ı": "i"}
)
_SEPARATORS = re.compile(r"[\s\-_./]+")


@lru_cache(maxsize=8192)
def normalise(text: str) -> str:
    """Fold text for matching: "Next Follow-Up" and "next_follow up" become "next follow up".

    Case and accents are dropped ("Nächster" -> "nachster", "Forsøg" -> "forsog"), and runs
    of spaces, hyphens, underscores, dots and slashes count as one space.
    """
    if text.isascii():
        # Nothing to fold but case (the common case, and the one every row asks about).
        return _SEPARATORS.sub(" ", text.lower()).strip()
    folded = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", stripped.translate(_TRANSLITERATE)).strip()


# --- Names a starter workbook shows ------------------------------------------------------

PROSPECT_HEADERS: dict[str, dict[str, str]] = {
    "en": {
        "id": "ID",
        "company": "Company",
        "contact": "Contact",
        "email": "Email",
        "phone": "Phone",
        "owner": "Owner",
        "stage": "Stage",
        "segment": "Segment",
        "value": "Value",
        "created": "Created",
        "last_contact": "Last contact",
        "last_outcome": "Last outcome",
        "attempts": "Attempts",
        "follow_up_on": "Follow up on",
        "channel": "Channel",
        "notes": "Notes",
        "next_follow_up": "Next follow-up",
        "status": "Status",
        "step": "Step",
        "why": "Why",
        "assigned_to": "Assigned to",
    },
    "nl": {
        "id": "ID",
        "company": "Bedrijf",
        "contact": "Contactpersoon",
        "email": "E-mail",
        "phone": "Telefoon",
        "owner": "Eigenaar",
        "stage": "Fase",
        "segment": "Segment",
        "value": "Waarde",
        "created": "Aangemaakt",
        "last_contact": "Laatste contact",
        "last_outcome": "Laatste resultaat",
        "attempts": "Pogingen",
        "follow_up_on": "Opvolgen op",
        "channel": "Kanaal",
        "notes": "Notities",
        "next_follow_up": "Volgende opvolging",
        "status": "Status",
        "step": "Stap",
        "why": "Waarom",
        "assigned_to": "Toegewezen aan",
    },
    "de": {
        "id": "ID",
        "company": "Firma",
        "contact": "Ansprechpartner",
        "email": "E-Mail",
        "phone": "Telefon",
        "owner": "Verantwortlich",
        "stage": "Phase",
        "segment": "Segment",
        "value": "Wert",
        "created": "Erstellt",
        "last_contact": "Letzter Kontakt",
        "last_outcome": "Letztes Ergebnis",
        "attempts": "Versuche",
        "follow_up_on": "Wiedervorlage am",
        "channel": "Kanal",
        "notes": "Notizen",
        "next_follow_up": "Nächster Kontakt",
        "status": "Status",
        "step": "Schritt",
        "why": "Warum",
        "assigned_to": "Zugewiesen an",
    },
    "da": {
        "id": "ID",
        "company": "Virksomhed",
        "contact": "Kontaktperson",
        "email": "E-mail",
        "phone": "Telefon",
        "owner": "Ejer",
        "stage": "Fase",
        "segment": "Segment",
        "value": "Værdi",
        "created": "Oprettet",
        "last_contact": "Sidste kontakt",
        "last_outcome": "Sidste resultat",
        "attempts": "Forsøg",
        "follow_up_on": "Opfølgning den",
        "channel": "Kanal",
        "notes": "Noter",
        "next_follow_up": "Næste opfølgning",
        "status": "Status",
        "step": "Trin",
        "why": "Hvorfor",
        "assigned_to": "Tildelt",
    },
    "es": {
        "id": "ID",
        "company": "Empresa",
        "contact": "Contacto",
        "email": "Correo electrónico",
        "phone": "Teléfono",
        "owner": "Propietario",
        "stage": "Etapa",
        "segment": "Segmento",
        "value": "Valor",
        "created": "Creado",
        "last_contact": "Último contacto",
        "last_outcome": "Último resultado",
        "attempts": "Intentos",
        "follow_up_on": "Seguimiento el",
        "channel": "Canal",
        "notes": "Notas",
        "next_follow_up": "Próximo seguimiento",
        "status": "Estado",
        "step": "Paso",
        "why": "Motivo",
        "assigned_to": "Asignado a",
    },
}

LOG_HEADERS: dict[str, dict[str, str]] = {
    "en": {
        "when": "When",
        "id": "ID",
        "company": "Company",
        "by": "By",
        "outcome": "Outcome",
        "channel": "Channel",
        "note": "Note",
        "next_follow_up": "Next follow-up",
    },
    "nl": {
        "when": "Wanneer",
        "id": "ID",
        "company": "Bedrijf",
        "by": "Door",
        "outcome": "Resultaat",
        "channel": "Kanaal",
        "note": "Notitie",
        "next_follow_up": "Volgende opvolging",
    },
    "de": {
        "when": "Wann",
        "id": "ID",
        "company": "Firma",
        "by": "Von",
        "outcome": "Ergebnis",
        "channel": "Kanal",
        "note": "Notiz",
        "next_follow_up": "Nächster Kontakt",
    },
    "da": {
        "when": "Hvornår",
        "id": "ID",
        "company": "Virksomhed",
        "by": "Af",
        "outcome": "Resultat",
        "channel": "Kanal",
        "note": "Note",
        "next_follow_up": "Næste opfølgning",
    },
    "es": {
        "when": "Cuándo",
        "id": "ID",
        "company": "Empresa",
        "by": "Por",
        "outcome": "Resultado",
        "channel": "Canal",
        "note": "Nota",
        "next_follow_up": "Próximo seguimiento",
    },
}

OWNER_HEADERS: dict[str, dict[str, str]] = {
    "en": {
        "owner": "Owner",
        "email": "Email",
        "delegate": "Delegate",
        "language": "Language",
        "country": "Country",
        "manager": "Manager",
        "digest": "Digest",
        "away_from": "Away from",
        "away_until": "Away until",
        "cover": "Cover",
        "calls_per_day": "Calls per day",
    },
    "nl": {
        "owner": "Eigenaar",
        "email": "E-mail",
        "delegate": "Vervanger",
        "language": "Taal",
        "country": "Land",
        "manager": "Manager",
        "digest": "Overzicht",
        "away_from": "Afwezig vanaf",
        "away_until": "Afwezig tot",
        "cover": "Vervanging",
        "calls_per_day": "Belletjes per dag",
    },
    "de": {
        "owner": "Verantwortlich",
        "email": "E-Mail",
        "delegate": "Vertretung",
        "language": "Sprache",
        "country": "Land",
        "manager": "Vorgesetzter",
        "digest": "Zusammenfassung",
        "away_from": "Abwesend ab",
        "away_until": "Abwesend bis",
        "cover": "Urlaubsvertretung",
        "calls_per_day": "Anrufe pro Tag",
    },
    "da": {
        "owner": "Ejer",
        "email": "E-mail",
        "delegate": "Stedfortræder",
        "language": "Sprog",
        "country": "Land",
        "manager": "Leder",
        "digest": "Oversigt",
        "away_from": "Fraværende fra",
        "away_until": "Fraværende til",
        "cover": "Dækker",
        "calls_per_day": "Opkald pr. dag",
    },
    "es": {
        "owner": "Propietario",
        "email": "Correo electrónico",
        "delegate": "Suplente",
        "language": "Idioma",
        "country": "País",
        "manager": "Gerente",
        "digest": "Resumen",
        "away_from": "Ausente desde",
        "away_until": "Ausente hasta",
        "cover": "Cubre",
        "calls_per_day": "Llamadas por día",
    },
}

TAB_NAMES: dict[str, dict[str, str]] = {
    "en": {"prospects": "Prospects", "log": "Log", "owners": "Owners"},
    "nl": {"prospects": "Prospects", "log": "Logboek", "owners": "Eigenaren"},
    "de": {"prospects": "Interessenten", "log": "Protokoll", "owners": "Verantwortliche"},
    "da": {"prospects": "Emner", "log": "Log", "owners": "Ejere"},
    "es": {"prospects": "Prospectos", "log": "Registro", "owners": "Propietarios"},
}

STAGE_NAMES: dict[str, dict[Stage, str]] = {
    "en": {
        Stage.NEW: "New",
        Stage.CONTACTED: "Contacted",
        Stage.INTERESTED: "Interested",
        Stage.QUOTE: "Quote",
        Stage.WON: "Won",
        Stage.DELIVERED: "Delivered",
        Stage.CUSTOMER: "Customer",
        Stage.LOST: "Lost",
        Stage.NOT_INTERESTED: "Not interested",
    },
    "nl": {
        Stage.NEW: "Nieuw",
        Stage.CONTACTED: "Gecontacteerd",
        Stage.INTERESTED: "Geïnteresseerd",
        Stage.QUOTE: "Offerte",
        Stage.WON: "Gewonnen",
        Stage.DELIVERED: "Geleverd",
        Stage.CUSTOMER: "Klant",
        Stage.LOST: "Verloren",
        Stage.NOT_INTERESTED: "Niet geïnteresseerd",
    },
    "de": {
        Stage.NEW: "Neu",
        Stage.CONTACTED: "Kontaktiert",
        Stage.INTERESTED: "Interessiert",
        Stage.QUOTE: "Angebot",
        Stage.WON: "Gewonnen",
        Stage.DELIVERED: "Geliefert",
        Stage.CUSTOMER: "Kunde",
        Stage.LOST: "Verloren",
        Stage.NOT_INTERESTED: "Kein Interesse",
    },
    "da": {
        Stage.NEW: "Ny",
        Stage.CONTACTED: "Kontaktet",
        Stage.INTERESTED: "Interesseret",
        Stage.QUOTE: "Tilbud",
        Stage.WON: "Vundet",
        Stage.DELIVERED: "Leveret",
        Stage.CUSTOMER: "Kunde",
        Stage.LOST: "Tabt",
        Stage.NOT_INTERESTED: "Ikke interesseret",
    },
    "es": {
        Stage.NEW: "Nuevo",
        Stage.CONTACTED: "Contactado",
        Stage.INTERESTED: "Interesado",
        Stage.QUOTE: "Presupuesto",
        Stage.WON: "Ganado",
        Stage.DELIVERED: "Entregado",
        Stage.CUSTOMER: "Cliente",
        Stage.LOST: "Perdido",
        Stage.NOT_INTERESTED: "No interesado",
    },
}

OUTCOME_NAMES: dict[str, dict[Outcome, str]] = {
    "en": {
        Outcome.REACHED: "Reached",
        Outcome.NO_ANSWER: "No answer",
        Outcome.VOICEMAIL: "Voicemail",
        Outcome.INTERESTED: "Interested",
        Outcome.CALL_BACK: "Call back",
        Outcome.QUOTE_SENT: "Quote sent",
        Outcome.NOT_INTERESTED: "Not interested",
        Outcome.WON: "Won",
        Outcome.DELIVERED: "Delivered",
        Outcome.LOST: "Lost",
    },
    "nl": {
        Outcome.REACHED: "Bereikt",
        Outcome.NO_ANSWER: "Geen gehoor",
        Outcome.VOICEMAIL: "Voicemail",
        Outcome.INTERESTED: "Geïnteresseerd",
        Outcome.CALL_BACK: "Terugbellen",
        Outcome.QUOTE_SENT: "Offerte verstuurd",
        Outcome.NOT_INTERESTED: "Niet geïnteresseerd",
        Outcome.WON: "Gewonnen",
        Outcome.DELIVERED: "Geleverd",
        Outcome.LOST: "Verloren",
    },
    "de": {
        Outcome.REACHED: "Erreicht",
        Outcome.NO_ANSWER: "Nicht erreicht",
        Outcome.VOICEMAIL: "Mailbox",
        Outcome.INTERESTED: "Interessiert",
        Outcome.CALL_BACK: "Rückruf",
        Outcome.QUOTE_SENT: "Angebot gesendet",
        Outcome.NOT_INTERESTED: "Kein Interesse",
        Outcome.WON: "Gewonnen",
        Outcome.DELIVERED: "Geliefert",
        Outcome.LOST: "Verloren",
    },
    "da": {
        Outcome.REACHED: "Truffet",
        Outcome.NO_ANSWER: "Ikke truffet",
        Outcome.VOICEMAIL: "Telefonsvarer",
        Outcome.INTERESTED: "Interesseret",
        Outcome.CALL_BACK: "Ring tilbage",
        Outcome.QUOTE_SENT: "Tilbud sendt",
        Outcome.NOT_INTERESTED: "Ikke interesseret",
        Outcome.WON: "Vundet",
        Outcome.DELIVERED: "Leveret",
        Outcome.LOST: "Tabt",
    },
    "es": {
        Outcome.REACHED: "Contactado",
        Outcome.NO_ANSWER: "No contesta",
        Outcome.VOICEMAIL: "Buzón de voz",
        Outcome.INTERESTED: "Interesado",
        Outcome.CALL_BACK: "Volver a llamar",
        Outcome.QUOTE_SENT: "Presupuesto enviado",
        Outcome.NOT_INTERESTED: "No interesado",
        Outcome.WON: "Ganado",
        Outcome.DELIVERED: "Entregado",
        Outcome.LOST: "Perdido",
    },
}

CHANNEL_NAMES: dict[str, dict[Channel, str]] = {
    "en": {Channel.PHONE: "Phone", Channel.EMAIL: "Email", Channel.VISIT: "Visit"},
    "nl": {Channel.PHONE: "Telefoon", Channel.EMAIL: "E-mail", Channel.VISIT: "Bezoek"},
    "de": {Channel.PHONE: "Telefon", Channel.EMAIL: "E-Mail", Channel.VISIT: "Besuch"},
    "da": {Channel.PHONE: "Telefon", Channel.EMAIL: "E-mail", Channel.VISIT: "Besøg"},
    "es": {Channel.PHONE: "Teléfono", Channel.EMAIL: "Correo", Channel.VISIT: "Visita"},
}

#: The words the Status column shows, for a workbook whose team reads another language.
STATUS_NAMES: dict[str, dict[Status, str]] = {
    "en": {
        Status.NEW: "New",
        Status.DUE: "Due",
        Status.OVERDUE: "Overdue",
        Status.SCHEDULED: "Scheduled",
        Status.SNOOZED: "Snoozed",
        Status.DEAD: "Dead",
        Status.WON: "Won",
        Status.LOST: "Lost",
        Status.NOT_INTERESTED: "Not interested",
        Status.CUSTOMER: "Customer",
        Status.NEEDS_ATTENTION: "Needs attention",
    },
    "nl": {
        Status.NEW: "Nieuw",
        Status.DUE: "Te doen",
        Status.OVERDUE: "Te laat",
        Status.SCHEDULED: "Gepland",
        Status.SNOOZED: "Uitgesteld",
        Status.DEAD: "Afgeschreven",
        Status.WON: "Gewonnen",
        Status.LOST: "Verloren",
        Status.NOT_INTERESTED: "Niet geïnteresseerd",
        Status.CUSTOMER: "Klant",
        Status.NEEDS_ATTENTION: "Aandacht nodig",
    },
    "de": {
        Status.NEW: "Neu",
        Status.DUE: "Fällig",
        Status.OVERDUE: "Überfällig",
        Status.SCHEDULED: "Geplant",
        Status.SNOOZED: "Zurückgestellt",
        Status.DEAD: "Aufgegeben",
        Status.WON: "Gewonnen",
        Status.LOST: "Verloren",
        Status.NOT_INTERESTED: "Kein Interesse",
        Status.CUSTOMER: "Kunde",
        Status.NEEDS_ATTENTION: "Prüfen",
    },
    "da": {
        Status.NEW: "Ny",
        Status.DUE: "Forfalder",
        Status.OVERDUE: "Overskredet",
        Status.SCHEDULED: "Planlagt",
        Status.SNOOZED: "Udsat",
        Status.DEAD: "Opgivet",
        Status.WON: "Vundet",
        Status.LOST: "Tabt",
        Status.NOT_INTERESTED: "Ikke interesseret",
        Status.CUSTOMER: "Kunde",
        Status.NEEDS_ATTENTION: "Kræver opmærksomhed",
    },
    "es": {
        Status.NEW: "Nuevo",
        Status.DUE: "Pendiente",
        Status.OVERDUE: "Atrasado",
        Status.SCHEDULED: "Programado",
        Status.SNOOZED: "Pospuesto",
        Status.DEAD: "Descartado",
        Status.WON: "Ganado",
        Status.LOST: "Perdido",
        Status.NOT_INTERESTED: "No interesado",
        Status.CUSTOMER: "Cliente",
        Status.NEEDS_ATTENTION: "Requiere atención",
    },
}

YES_NO: dict[str, tuple[str, str]] = {
    "en": ("yes", "no"),
    "nl": ("ja", "nee"),
    "de": ("ja", "nein"),
    "da": ("ja", "nej"),
    "es": ("sí", "no"),
}


# --- Aliases accepted when reading ---------------------------------------------------------

_PROSPECT_EXTRA: dict[str, tuple[str, ...]] = {
    "id": (
        "ref",
        "reference",
        "prospect id",
        "lead id",
        "nr",
        "nummer",
        "referentie",
        "referenz",
        "referencia",
        "número",
    ),
    "company": (
        "company name",
        "account",
        "account name",
        "organisation",
        "organization",
        "business",
        "firm",
        "bedrijfsnaam",
        "organisatie",
        "unternehmen",
        "firmenname",
        "virksomhedsnavn",
        "selskab",
        "compañía",
        "organización",
        "nombre de empresa",
    ),
    # A bare "Name" is left out: sheets use it for the company as often as for the person.
    "contact": (
        "contact person",
        "contact name",
        "full name",
        "person",
        "naam contactpersoon",
        "kontakt",
        "ansprechperson",
        "navn på kontakt",
        "persona de contacto",
        "nombre de contacto",
    ),
    "email": (
        "e-mail",
        "mail",
        "email address",
        "e-mail address",
        "e-mailadres",
        "emailadres",
        "e-mail-adresse",
        "e-mailadresse",
        "correo",
        "correo electrónico",
        "email adres",
    ),
    "phone": (
        "tel",
        "telephone",
        "mobile",
        "phone number",
        "cell",
        "mobile phone",
        "telephone number",
        "telefoonnummer",
        "mobiel",
        "telefonnummer",
        "handy",
        "mobil",
        "mobilnummer",
        "móvil",
        "celular",
        "número de teléfono",
    ),
    "owner": (
        "sales rep",
        "rep",
        "salesperson",
        "account manager",
        "account owner",
        "assigned",
        "responsible",
        "verantwoordelijke",
        "accountmanager",
        "verkoper",
        "betreuer",
        "zuständig",
        "vertriebler",
        "ansvarlig",
        "sælger",
        "responsable",
        "comercial",
        "vendedor",
    ),
    "stage": ("pipeline stage", "deal stage", "phase", "fase", "stadium", "etapa"),
    "segment": (
        "category",
        "sector",
        "industry",
        "categorie",
        "kategorie",
        "kategori",
        "categoría",
        "branche",
    ),
    "value": (
        "deal value",
        "amount",
        "deal size",
        "revenue",
        "bedrag",
        "dealwaarde",
        "omzet",
        "betrag",
        "auftragswert",
        "umsatz",
        "beløb",
        "omsætning",
        "importe",
        "monto",
        "valor estimado",
    ),
    "created": (
        "created on",
        "date created",
        "creation date",
        "added",
        "date added",
        "lead date",
        "toegevoegd",
        "datum aangemaakt",
        "aangemaakt op",
        "angelegt",
        "erstellt am",
        "oprettet den",
        "tilføjet",
        "fecha de creación",
        "creado el",
    ),
    "last_contact": (
        "last contacted",
        "last touch",
        "last call",
        "last contact date",
        "laatst gesproken",
        "zuletzt kontaktiert",
        "letzter anruf",
        "ultimo contacto",
        "fecha último contacto",
    ),
    "last_outcome": (
        "outcome",
        "result",
        "last result",
        "resultaat",
        "uitkomst",
        "ergebnis",
        "resultat",
        "resultado",
    ),
    "attempts": (
        "# attempts",
        "tries",
        "attempt",
        "no of attempts",
        "number of attempts",
        "call attempts",
        "aantal pogingen",
        "anzahl versuche",
        "antal forsøg",
        "número de intentos",
    ),
    "follow_up_on": (
        "follow-up date",
        "follow up date",
        "followup date",
        "next action",
        "next action date",
        "callback date",
        "call back on",
        "remind on",
        "opvolgdatum",
        "terugbellen op",
        "wiedervorlage",
        "rückruf am",
        "opfølgningsdato",
        "ring tilbage den",
        "fecha de seguimiento",
        "volver a llamar el",
        "volgende actie",
        "datum volgende actie",
        "nächste aktion",
        "næste handling",
        "próxima acción",
        "siguiente acción",
    ),
    "channel": ("contact method", "medium", "kanaal", "canal"),
    "notes": (
        "note",
        "comments",
        "comment",
        "remarks",
        "notitie",
        "opmerkingen",
        "opmerking",
        "notiz",
        "kommentar",
        "bemerkungen",
        "bemærkninger",
        "nota",
        "comentarios",
    ),
    "next_follow_up": (
        "next followup",
        "next follow up date",
        "volgend contact",
        "næste kontakt",
        "próximo contacto",
    ),
    "status": (),
    "step": (),
    "why": ("reason", "reden", "grund", "begrundelse"),
    "assigned_to": ("tildelt til", "zugewiesen", "asignado"),
}

_LOG_EXTRA: dict[str, tuple[str, ...]] = {
    "when": ("date", "time", "timestamp", "datum", "zeitpunkt", "dato", "tidspunkt", "fecha"),
    "id": ("ref", "prospect id"),
    "company": (
        "company name",
        "account",
        "organisation",
        "organization",
        "unternehmen",
        "firma",
        "bedrijfsnaam",
        "compañía",
    ),
    "by": ("who", "user", "rep", "owner", "wie", "wer", "hvem", "quién", "usuario"),
    "outcome": ("result", "uitkomst"),
    "channel": ("kanaal", "canal"),
    "note": (
        "notes",
        "comment",
        "notitie",
        "notities",
        "opmerking",
        "notizen",
        "kommentar",
        "noter",
        "notas",
        "comentario",
    ),
    "next_follow_up": ("next followup", "volgend contact", "næste kontakt", "próximo contacto"),
}

_OWNER_EXTRA: dict[str, tuple[str, ...]] = {
    "owner": (
        "name",
        "sales rep",
        "rep",
        "salesperson",
        "naam",
        "navn",
        "nombre",
        "verkoper",
        "sælger",
        "vendedor",
    ),
    "email": (
        "e-mail",
        "mail",
        "email address",
        "e-mailadres",
        "e-mail-adresse",
        "e-mailadresse",
        "correo",
        "correo electrónico",
    ),
    "delegate": (
        "deputy",
        "backup",
        "assistant",
        "gedelegeerde",
        "vertreter",
        "stellvertreter",
        "delegado",
        "sustituto",
    ),
    "language": ("lang", "locale", "taal", "sprache", "sprog", "idioma"),
    "country": ("holidays", "holiday country", "pais"),
    "manager": ("boss", "team lead", "teamleider", "leidinggevende", "teamleiter", "chef", "jefe"),
    "digest": ("summary", "daily digest", "manager digest", "samenvatting", "übersicht", "resumen"),
    "away_from": (
        "on leave from",
        "leave from",
        "away since",
        "afwezig van",
        "urlaub ab",
        "ferie fra",
    ),
    "away_until": ("on leave until", "leave until", "afwezig t/m", "urlaub bis", "ferie til"),
    "cover": ("covered by", "covering", "vervangen door", "vertreten durch", "cubierto por"),
    "calls_per_day": (
        "calls a day",
        "daily calls",
        "capacity",
        "calls per dag",
        "gesprekken per dag",
        "anrufe am tag",
        "opkald per dag",
        "llamadas al dia",
    ),
}


#: How a row that sums up the rows above it starts, in every language (normalised): such a
#: row is no prospect.
TOTAL_WORDS: tuple[str, ...] = (
    "total",
    "totals",
    "grand total",
    "subtotal",
    "sub total",
    "sum",
    "totaal",
    "totalen",
    "subtotaal",
    "eindtotaal",
    "summe",
    "gesamt",
    "gesamtsumme",
    "zwischensumme",
    "insgesamt",
    "i alt",
    "ialt",
    "sum i alt",
    "subtotal",
    "totales",
    "total general",
    "suma",
)

# A currency after a header ("Waarde (€)", "Value in EUR", "Beløb kr."): the column is the
# same column whatever money it counts in.
_CURRENCY_SUFFIX = re.compile(
    r"\s*(?:\(\s*(?:€|\$|£|eur|usd|gbp|dkk|sek|nok|chf|kr)\.?\s*\)"
    r"|\b(?:in\s+)?(?:eur|usd|gbp|dkk|sek|nok|chf|kr)\.?|in\s+[€$£]|[€$£])\s*$"
)


def without_currency(key: str) -> str:
    """A normalised header without a currency after it: "waarde (€)" -> "waarde"."""
    return _CURRENCY_SUFFIX.sub("", key).strip() or key


def _header_aliases(
    names: Mapping[str, Mapping[str, str]], extra: Mapping[str, Iterable[str]]
) -> dict[str, frozenset[str]]:
    """field -> every localised name, the field's own name and the extra variants."""
    result: dict[str, frozenset[str]] = {}
    owner_of: dict[str, str] = {}
    for name in extra:
        words = {name, *extra[name], *(names[lang][name] for lang in LANGS)}
        result[name] = frozenset(normalise(w) for w in words)
        for alias in result[name]:
            _claim(owner_of, alias, name)
    return result


def _claim(owner_of: dict[str, _T], word: str, claimant: _T) -> None:
    """Record that word means claimant; a word meaning two things would make reading a guess."""
    if owner_of.setdefault(word, claimant) != claimant:
        raise ValueError(f"{word!r} would mean both {owner_of[word]} and {claimant}")


HEADER_ALIASES: dict[str, frozenset[str]] = _header_aliases(PROSPECT_HEADERS, _PROSPECT_EXTRA)
LOG_ALIASES: dict[str, frozenset[str]] = _header_aliases(LOG_HEADERS, _LOG_EXTRA)
OWNER_ALIASES: dict[str, frozenset[str]] = _header_aliases(OWNER_HEADERS, _OWNER_EXTRA)

E = TypeVar("E", bound=Enum)


def _value_aliases(
    names: Mapping[str, Mapping[E, str]], extra: Mapping[E, Iterable[str]]
) -> dict[str, E]:
    """normalised word -> member, from every language's names, the value and the extras."""
    result: dict[str, E] = {}
    for lang in LANGS:
        for member, word in names[lang].items():
            _claim(result, normalise(word), member)
    for member, words in extra.items():
        for word in (str(member.value), *words):
            _claim(result, normalise(word), member)
    return result


_STAGE_EXTRA: dict[Stage, tuple[str, ...]] = {
    Stage.NEW: ("lead", "new lead", "open", "nieuwe lead", "neuer lead", "nyt emne", "nueva"),
    Stage.CONTACTED: (
        "in contact",
        "gecontacteerd",
        "benaderd",
        "kontaktiert",
        "kontaktet",
        "contactada",
    ),
    Stage.INTERESTED: ("qualified", "warm", "geinteresseerd", "interessiert", "interesada"),
    Stage.QUOTE: (
        "quote sent",
        "quoted",
        "proposal",
        "offer",
        "offerte verstuurd",
        "angebot gesendet",
        "tilbud sendt",
        "presupuesto enviado",
        "oferta",
        "propuesta",
        "cotización",
    ),
    Stage.WON: ("closed won", "sold", "verkocht", "verkauft", "solgt", "vendido", "ganada"),
    Stage.DELIVERED: ("geleverd", "geliefert", "leveret", "entregada"),
    Stage.CUSTOMER: ("client", "account", "klant", "kunde", "kunden", "cliente"),
    Stage.LOST: ("closed lost", "tabt", "perdida"),
    Stage.NOT_INTERESTED: (
        "not-interested",
        "no interest",
        "geen interesse",
        "nicht interessiert",
        "ingen interesse",
        "sin interés",
        "no interesada",
    ),
}

_OUTCOME_EXTRA: dict[Outcome, tuple[str, ...]] = {
    Outcome.REACHED: (
        "spoken",
        "spoke",
        "talked",
        "connected",
        "answered",
        "gesproken",
        "gesprochen",
        "talt med",
        "hablado",
        "contactada",
    ),
    Outcome.NO_ANSWER: (
        "no-answer",
        "noanswer",
        "not reached",
        "no reply",
        "no response",
        "unreachable",
        "niet bereikt",
        "geen antwoord",
        "niet opgenomen",
        "keine antwort",
        "nicht erreichbar",
        "intet svar",
        "ikke svar",
        "sin respuesta",
        "no responde",
    ),
    Outcome.VOICEMAIL: (
        "voice mail",
        "left voicemail",
        "left message",
        "answerphone",
        "ingesproken",
        "voicemail ingesproken",
        "anrufbeantworter",
        "mailbox",
        "besked",
        "besked på telefonsvarer",
        "buzon",
        "contestador",
        "mensaje de voz",
    ),
    Outcome.INTERESTED: ("geinteresseerd", "interesse", "interesada"),
    Outcome.CALL_BACK: (
        "callback",
        "call-back",
        "call me back",
        "call later",
        "bel terug",
        "later bellen",
        "terugbellen",
        "zurückrufen",
        "rückruf erwünscht",
        "ring tilbage senere",
        "ringes op",
        "llamar más tarde",
        "volver a llamar",
    ),
    Outcome.QUOTE_SENT: (
        "quote",
        "quoted",
        "offer sent",
        "proposal sent",
        "offerte",
        "offerte gestuurd",
        "angebot",
        "angebot verschickt",
        "tilbud",
        "presupuesto",
        "oferta enviada",
        "cotización enviada",
    ),
    Outcome.NOT_INTERESTED: (
        "not-interested",
        "no interest",
        "geen interesse",
        "nicht interessiert",
        "ingen interesse",
        "sin interés",
        "no interesada",
    ),
    Outcome.WON: (
        "closed won",
        "sold",
        "deal",
        "verkocht",
        "verkauft",
        "solgt",
        "vendido",
        "ganada",
    ),
    Outcome.DELIVERED: ("entregada",),
    Outcome.LOST: ("closed lost", "perdida"),
}

_CHANNEL_EXTRA: dict[Channel, tuple[str, ...]] = {
    Channel.PHONE: (
        "call",
        "tel",
        "telephone",
        "phone call",
        "bellen",
        "gebeld",
        "anruf",
        "opkald",
        "ringet",
        "llamada",
        "teléfono",
    ),
    Channel.EMAIL: ("e-mail", "mail", "correo electrónico", "e mail"),
    Channel.VISIT: (
        "meeting",
        "in person",
        "on site",
        "afspraak",
        "termin",
        "vor ort",
        "møde",
        "reunión",
    ),
}

_STATUS_EXTRA: dict[Status, tuple[str, ...]] = {member: () for member in Status}

STAGE_ALIASES: dict[str, Stage] = _value_aliases(STAGE_NAMES, _STAGE_EXTRA)
OUTCOME_ALIASES: dict[str, Outcome] = _value_aliases(OUTCOME_NAMES, _OUTCOME_EXTRA)
CHANNEL_ALIASES: dict[str, Channel] = _value_aliases(CHANNEL_NAMES, _CHANNEL_EXTRA)
STATUS_ALIASES: dict[str, Status] = _value_aliases(STATUS_NAMES, _STATUS_EXTRA)

#: Yes/no words of every language, plus the forms spreadsheets and people use for booleans.
BOOL_ALIASES: dict[str, bool] = {
    **{normalise(yes): True for yes, _ in YES_NO.values()},
    **{normalise(no): False for _, no in YES_NO.values()},
    "y": True,
    "j": True,
    "s": True,
    "n": False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
    "waar": True,
    "onwaar": False,
    "wahr": True,
    "falsch": False,
    "sand": True,
    "falsk": False,
    "verdadero": True,
    "falso": False,
    "x": True,
}
