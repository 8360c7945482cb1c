"""sheetfollow.toml: finding it, validating every key once, and the team's today."""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timezone
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sheetfollow.config import (
    _CALENDAR_KEYS,
    _IMPORT_KEYS,
    _INBOX_KEYS,
    _RULE_KEYS,
    _TAB_KEYS,
    CONFIG_NAME,
    KEYS,
    Cadence,
    CalendarConfig,
    Config,
    ImportConfig,
    Rules,
    Tabs,
    config_from_text,
    load_config,
    today_in,
)
from sheetfollow.errors import ConfigError
from sheetfollow.exit_codes import ExitCode
from sheetfollow.fields import ALL_FIELDS

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / CONFIG_NAME


def write(folder: Path, text: str, name: str = CONFIG_NAME) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load(folder: Path, text: str) -> Config:
    """Load `text` as the sheetfollow.toml found in `folder`."""
    write(folder, text)
    return load_config(cwd=folder)


def error(folder: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load(folder, text)
    assert caught.value.exit_code is ExitCode.CONFIG
    return str(caught.value)


# --- Finding the file --------------------------------------------------------------------------


def test_without_a_file_the_defaults_apply(tmp_path: Path) -> None:
    assert load_config(cwd=tmp_path) == Config()


def test_sheetfollow_toml_in_the_working_folder_is_found(tmp_path: Path) -> None:
    config = load(tmp_path, "backups = 7\n")
    assert config.backups == 7
    assert config.path == (tmp_path / CONFIG_NAME).resolve()


def test_an_explicit_config_wins_over_the_working_folder(tmp_path: Path) -> None:
    write(tmp_path, "backups = 7\n")
    other = write(tmp_path, "backups = 2\n", name="team.toml")
    assert load_config(other, cwd=tmp_path).backups == 2
    # A relative --config is relative to the working folder.
    assert load_config(Path("team.toml"), cwd=tmp_path).backups == 2


def test_a_missing_explicit_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml: no such config file"):
        load_config(tmp_path / "nowhere.toml", cwd=tmp_path)


def test_a_folder_is_not_a_config_file(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).mkdir()
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(cwd=tmp_path)


def test_text_that_is_not_utf8_is_an_error(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_bytes(b'sheet = "caf\xe9.xlsx"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(cwd=tmp_path)


def test_a_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    (tmp_path / CONFIG_NAME).write_bytes(b"\xef\xbb\xbfbackups = 4\n")
    assert load_config(cwd=tmp_path).backups == 4


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("backups = 3\nlanguage = \n", 2, 12),
        ("[rules\nmin_gap = 3\n", 1, 7),
        ('backups = 3\nsheet = "open', 2, 14),
    ],
)
def test_toml_syntax_errors_name_line_and_column(
    tmp_path: Path, text: str, line: int, column: int
) -> None:
    message = error(tmp_path, text)
    assert message.startswith(f"{CONFIG_NAME}, line {line}, column {column}: not valid TOML")


# --- The shipped template ---------------------------------------------------------------------


def test_the_template_loads_to_the_defaults_plus_what_it_sets() -> None:
    config = load_config(TEMPLATE)
    expected = Config(
        path=TEMPLATE.resolve(),
        sheet=str(TEMPLATE.resolve().parent / "pipeline.xlsx"),
        timezone="Europe/Amsterdam",
        date_order="DMY",
        rules=Rules(
            cadences=MappingProxyType(
                {
                    "default": Cadence(),
                    "capital goods": Cadence(gaps=(0, 3, 7, 10, 15), max_attempts=6),
                }
            )
        ),
        calendar=CalendarConfig(country="NL"),
    )
    assert config == expected


def _set_or_shown(key: str, text: str) -> bool:
    """`key = ...` as a setting or as a commented-out example, at the start of a line."""
    return re.search(rf"^(# )?{re.escape(key)} = ", text, re.MULTILINE) is not None


def test_the_template_documents_every_key() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    sections = {
        "tabs", "headers", "rules", "cadence", "calendar", "import", "smtp", "email", "inbox",
        "google",
    }  # fmt: skip
    assert sections <= set(KEYS)
    for key in KEYS:
        assert f"\n[{key}]\n" in text if key in sections else _set_or_shown(key, text), key
    for table in (_TAB_KEYS, _RULE_KEYS, _CALENDAR_KEYS, _IMPORT_KEYS, _INBOX_KEYS):
        missing = [key for key in table if not _set_or_shown(key, text)]
        assert not missing, f"undocumented in the template: {missing}"
    # [headers] takes field names: the comment lists them all.
    assert all(re.search(rf"\b{name}\b", text) for name in ALL_FIELDS)


def test_every_config_field_has_a_key() -> None:
    """A field added to the dataclasses without a key in the validator cannot be set."""

    def names(cls: type) -> set[str]:
        return {item.name for item in dataclasses.fields(cls)}

    targets = {key.target or name for name, key in KEYS.items()}
    assert names(Config) - {"path"} <= {target.split(".")[0] for target in targets}
    assert names(Tabs) == set(_TAB_KEYS)
    assert names(Rules) - {"cadences"} == set(_RULE_KEYS)
    assert "rules.cadences" in targets
    assert names(CalendarConfig) == set(_CALENDAR_KEYS)
    assert names(ImportConfig) == set(_IMPORT_KEYS)


# --- Keys and values --------------------------------------------------------------------------


def test_unknown_keys_suggest_the_right_one(tmp_path: Path) -> None:
    message = error(tmp_path, "[rules]\nmax_attempt = 5\n")
    assert message == (
        "sheetfollow.toml: unknown key 'rules.max_attempt' (did you mean 'max_attempts'?)"
    )


def test_unknown_keys_without_a_near_miss_list_the_known_ones(tmp_path: Path) -> None:
    message = error(tmp_path, "[slack]\nchannel = 'sales'\n")
    assert message.startswith("sheetfollow.toml: unknown key 'slack' (known keys: sheet,")


def test_wrong_types_name_file_key_and_value(tmp_path: Path) -> None:
    message = error(tmp_path, '[rules]\nmax_attempts = "five"\n')
    assert message == (
        "sheetfollow.toml: rules.max_attempts must be a whole number from 1 to 20, not 'five'"
    )


def test_an_explicit_config_is_named_as_given(tmp_path: Path) -> None:
    path = write(tmp_path, "backups = -1\n", name="team.toml")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value).startswith(f"{path}: backups must be a whole number from 0 to 100")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules]\nmax_attempts = 0", "rules.max_attempts must be a whole number from 1 to 20"),
        ("[rules]\nmax_attempts = 21", "rules.max_attempts must be a whole number from 1 to 20"),
        ("[rules]\nmax_attempts = 5.0", "rules.max_attempts must be a whole number"),
        ("[rules]\nmax_attempts = true", "rules.max_attempts must be a whole number"),
        ("[rules]\nmin_attempts = 0", "rules.min_attempts must be a whole number from 1"),
        (
            "[rules]\nmin_attempts = 6",
            "rules.min_attempts must be a whole number from 1 to rules.max_attempts (5), not 6",
        ),
        ("[rules]\nmin_gap = 61", "rules.min_gap must be a whole number from 0 to 60, not 61"),
        ("[rules]\nwindow_days = 0", "rules.window_days must be a whole number from 1 to 3650"),
        ("[rules]\nwindow_days = 3651", "rules.window_days must be a whole number from 1 to"),
        ("[rules]\ndelegate_below = -5", "rules.delegate_below must be an amount of 0 or more"),
        ("[rules]\ndelegate_below = 'cheap'", "rules.delegate_below must be an amount"),
        ("rules = 5", "rules must be a table, not 5"),
        ("backups = 101", "backups must be a whole number from 0 to 100, not 101"),
        ("language = 'fr'", "language must be one of en, nl, de, da, es, not 'fr'"),
        ("id_prefix = 7", "id_prefix must be text"),
        ("sheet = ''", "sheet must be a path to an .xlsx file"),
        (
            "sheet = ['a.xlsx']",
            "sheet must be a path to an .xlsx file, or a Google Sheets URL or key, not a list",
        ),
        ("timezone = 'Mars/Olympus'", "timezone must be an IANA time zone"),
        ("timezone = 'Europe'", "timezone must be an IANA time zone"),
        ("timezone = '../etc/passwd'", "timezone must be an IANA time zone"),
        ("[tabs]\nlog = ''", "tabs.log must be a tab name"),
        ("[tabs]\nlog = 'a/b'", "tabs.log must be a tab name"),
        ("[tabs]\nlog = '" + "x" * 32 + "'", "tabs.log must be a tab name of 1 to 31 characters"),
        ("[tabs]\nlog = 'prospects'", "tabs.log is the same tab as tabs.prospects"),
        ("[tabs]\nstats = 'Stats'", "unknown key 'tabs.stats'"),
        ("[tabs]\ntouches = ''", "tabs.touches must be a tab name of 1 to 31 characters"),
        ("[tabs]\ntouches = 'a:b'", "tabs.touches must be a tab name"),
        ("[tabs]\ntouches = 7", "tabs.touches must be a tab name"),
        (
            "[tabs]\ntouches = 'SHEETFOLLOW_STATE'",
            "tabs.touches is the same tab as tabs.state: 'SHEETFOLLOW_STATE'",
        ),
        ("[tabs]\nlog = 'sheetfollow_touches'", "tabs.touches is the same tab as tabs.log"),
        (
            "require_touch_columns = 'no'",
            "require_touch_columns must be true or false, not 'no'",
        ),
        ("require_touch_columns = 0", "require_touch_columns must be true or false, not 0"),
        ("stale_lock_hours = 0", "stale_lock_hours must be a number of hours from 1 to 720, not 0"),
        ("stale_lock_hours = 0.5", "stale_lock_hours must be a number of hours from 1 to 720"),
        ("stale_lock_hours = 721", "stale_lock_hours must be a number of hours from 1 to 720"),
        ("stale_lock_hours = -3", "stale_lock_hours must be a number of hours from 1 to 720"),
        ("stale_lock_hours = nan", "stale_lock_hours must be a number of hours from 1 to 720"),
        ("stale_lock_hours = inf", "stale_lock_hours must be a number of hours from 1 to 720"),
        (
            "stale_lock_hours = true",
            "stale_lock_hours must be a number of hours from 1 to 720, not true",
        ),
        ("stale_lock_hours = '12'", "stale_lock_hours must be a number of hours from 1 to 720"),
        ("max_unpacked_mb = 8", "max_unpacked_mb must be a whole number from 16 to 65536, not 8"),
        ("max_unpacked_mb = 1e9", "max_unpacked_mb must be a whole number from 16 to 65536"),
        ("max_unpack_ratio = 10", "max_unpack_ratio must be a whole number from 20 to 2000"),
        ("max_unpack_ratio = 'x'", "max_unpack_ratio must be a whole number from 20 to 2000"),
        ("[headers]\ncompnay = 'Firm'", "unknown key 'headers.compnay' (did you mean 'company'?)"),
        ("[headers]\ncompany = ''", "headers.company must be the header text"),
        (
            "[headers]\ncompany = 'Firm'\nnotes = 'firm '",
            "headers.notes names the same column as headers.company",
        ),
        ("[cadence]\ndefault = []", "cadence.default must be a list of business days"),
        ("[cadence]\ndefault = '0, 2, 5'", "cadence.default must be a list of gaps"),
        ("[cadence]\ndefault = [0, -1]", "cadence.default[1] must be a whole number from 0 to"),
        ("[cadence]\ndefault = [0, 'x']", "cadence.default[1] must be a whole number"),
        ("[cadence]\n'capital goods' = [0, 400]", 'cadence."capital goods"[1] must be a whole'),
        (
            "[cadence]\n'capital goods' = {gaps = [1], max_attempt = 3}",
            "unknown key 'cadence.\"capital goods\".max_attempt' (did you mean 'max_attempts'?)",
        ),
        ("[cadence]\nx = {max_attempts = 4}", "cadence.x.gaps is missing"),
        (
            "[cadence]\nx = {gaps = [1], max_attempts = 21}",
            "cadence.x.max_attempts must be a whole number from 1 to 20",
        ),
        (
            "[cadence]\nx = {gaps = [1], max_attempts = 1}",
            "cadence.x.max_attempts must be at least rules.min_attempts (2), not 1",
        ),
        ("[cadence]\nx = 5", "cadence.x must be a list of gaps"),
        ("[cadence]\n'services/bogus' = [1]", 'cadence."services/bogus" names an unknown stage'),
        ("[cadence]\n'/quote' = [1]", 'cadence."/quote" needs a segment name'),
        (
            "[cadence]\nServices = [1]\n' services' = [2]",
            'cadence." services" is the same profile as cadence.Services',
        ),
        ("[calendar]\ncountry = 'XX'", "calendar.country must be a country code"),
        ("[calendar]\ncountry = 31", "calendar.country must be a country code"),
        ("[calendar]\nsubdivision = 'BY'", "calendar.subdivision needs calendar.country"),
        (
            "[calendar]\ncountry = 'DE'\nsubdivision = 'XY'",
            "calendar.subdivision must be a subdivision of DE (",
        ),
        ("[calendar]\nweekend = 'sat'", "calendar.weekend must be a list of day names"),
        (
            "[calendar]\nweekend = [6]",
            "calendar.weekend[0] must be a day name such as 'sat' or 'sunday', not 6",
        ),
        ("[calendar]\nweekend = ['sat', 'funday']", "calendar.weekend[1] must be a day name"),
        (
            "[calendar]\nweekend = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']",
            "calendar.weekend must leave at least one working day",
        ),
        ("[calendar]\ndays_off = 2026-12-24", "calendar.days_off must be a list of dates"),
        (
            "[calendar]\ndays_off = ['24-12-2026']",
            "calendar.days_off[0] must be a date such as 2026-12-24, not '24-12-2026'",
        ),
        ("[calendar]\ndays_off = ['2026-02-30']", "calendar.days_off[0] must be a date"),
        ("[calendar]\ndays_off = [2026-12-24T09:00:00]", "calendar.days_off[0] must be a date"),
    ],
)
def test_bad_values_are_named_precisely(tmp_path: Path, text: str, message: str) -> None:
    assert error(tmp_path, text + "\n").startswith(f"{CONFIG_NAME}: {message}")


def test_a_mistyped_time_zone_gets_a_suggestion(tmp_path: Path) -> None:
    message = error(tmp_path, "timezone = 'europe/amsterdam'\n")
    assert message.endswith("not 'europe/amsterdam' (did you mean 'Europe/Amsterdam'?)")


def test_valid_top_level_values(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        'timezone = "America/New_York"\nlanguage = " DA "\nid_prefix = "ACME-"\nbackups = 0\n',
    )
    assert (config.timezone, config.language, config.id_prefix, config.backups) == (
        "America/New_York",
        "da",
        "ACME-",
        0,
    )
    assert load(tmp_path, 'timezone = ""\n').timezone == ""


def test_touch_columns_lock_hours_and_the_touches_tab_default(tmp_path: Path) -> None:
    config = load(tmp_path, "backups = 3\n")
    assert config.require_touch_columns is True
    assert config.stale_lock_hours == 12
    assert config.tabs.touches == "sheetfollow_touches"
    assert (config.max_unpacked_mb, config.max_unpack_ratio) == (2048, 200)


def test_touch_columns_lock_hours_and_the_touches_tab_are_read(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "require_touch_columns = false\nstale_lock_hours = 1\n[tabs]\ntouches = 'Touch snapshot'\n",
    )
    assert config.require_touch_columns is False
    assert config.stale_lock_hours == 1
    assert config.tabs == Tabs(touches="Touch snapshot")
    assert load(tmp_path, "stale_lock_hours = 720\n").stale_lock_hours == 720
    assert load(tmp_path, "stale_lock_hours = 1.5\n").stale_lock_hours == 1.5


def test_rules_are_read_into_the_dataclass(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[rules]\nmin_gap = 0\nmin_gap_after = 3\nmin_attempts = 3\nmax_attempts = 3\n"
        "window_days = 3650\nquote_follow_up = 2\nreached_follow_up = 4\nthank_you_days = 0\n"
        "checkin_days = 10\nreview_months = 6\ndelegate_below = 2500\n",
    )
    assert config.rules == Rules(
        min_gap=0,
        min_gap_after=3,
        min_attempts=3,
        max_attempts=3,
        window_days=3650,
        quote_follow_up=2,
        reached_follow_up=4,
        thank_you_days=0,
        checkin_days=10,
        review_months=6,
        delegate_below=2500.0,
    )


def test_cadence_profiles_in_both_forms(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        "[rules]\nmax_attempts = 7\n"
        "[cadence]\n"
        '"Capital Goods" = { gaps = [0, 3, 7, 10, 15], max_attempts = 6 }\n'
        "consumables = [0, 1, 2]\n"
        '"Services / Offerte" = [0, 2]\n',
    )
    assert dict(config.rules.cadences) == {
        "default": Cadence(),
        "capital goods": Cadence((0, 3, 7, 10, 15), 6),
        "consumables": Cadence((0, 1, 2)),
        # Stage names are understood in every language and stored as the stage itself.
        "services/quote": Cadence((0, 2)),
    }
    # [cadence] before or after [rules]: both keep the profiles and the rules.
    assert config.rules.max_attempts == 7


def test_cadence_before_rules_in_the_file_is_kept(tmp_path: Path) -> None:
    config = load(tmp_path, "[cadence]\nx = [1]\n[rules]\nmin_gap = 2\n")
    assert config.rules.min_gap == 2
    assert config.rules.cadences["x"] == Cadence((1,))


def test_a_custom_default_profile_replaces_the_built_in_one(tmp_path: Path) -> None:
    config = load(tmp_path, "[cadence]\ndefault = [1, 1, 1]\n")
    assert dict(config.rules.cadences) == {"default": Cadence((1, 1, 1))}


def test_calendar_values(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        '[calendar]\ncountry = "de"\nsubdivision = "BY"\nweekend = ["Friday", "sat"]\n'
        'days_off = [2026-12-31, "2026-12-24", 2026-12-31]\n',
    )
    assert config.calendar == CalendarConfig(
        country="DE",
        subdivision="BY",
        weekend=(4, 5),
        days_off=(date(2026, 12, 24), date(2026, 12, 31)),
    )
    assert load(tmp_path, "[calendar]\nweekend = []\n").calendar.weekend == ()


def test_headers_map_fields_to_the_sheets_text(tmp_path: Path) -> None:
    config = load(tmp_path, '[headers]\ncompany = " Account "\nfollow_up_on = "Call me on"\n')
    assert dict(config.headers) == {"company": "Account", "follow_up_on": "Call me on"}


def test_a_relative_sheet_is_next_to_the_config_file(tmp_path: Path) -> None:
    team = tmp_path / "team"
    team.mkdir()
    path = write(team, 'sheet = "data/pipeline.xlsx"\n')
    elsewhere = tmp_path / "cron"
    elsewhere.mkdir()
    config = load_config(path, cwd=elsewhere)
    assert config.sheet == str(team.resolve() / "data" / "pipeline.xlsx")


@pytest.mark.parametrize(
    "sheet",
    [
        "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit",
        "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
    ],
)
def test_google_sheets_are_kept_as_written(tmp_path: Path, sheet: str) -> None:
    assert load(tmp_path, f'sheet = "{sheet}"\n').sheet == sheet


def test_an_absolute_sheet_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "p.xlsx"
    assert load(tmp_path, f"sheet = '{target}'\n").sheet == str(target)


def test_loaded_config_is_frozen(tmp_path: Path) -> None:
    config = load(tmp_path, '[cadence]\nx = [1]\n[headers]\ncompany = "Firm"\n')
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.backups = 9  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.rules.cadences["y"] = Cadence()  # type: ignore[index]
    with pytest.raises(TypeError):
        config.headers["email"] = "Mail"  # type: ignore[index]


_WHOLE_RULES = [
    ("min_gap", 0, 60),
    ("min_gap_after", 0, 20),
    ("max_attempts", 1, 20),
    ("window_days", 1, 3650),
    ("review_months", 0, 120),
]


@pytest.mark.parametrize(("name", "low", "high"), _WHOLE_RULES)
@given(
    value=st.integers(min_value=-1000, max_value=5000)
    | st.sampled_from([-1, 0, 1, 2, 19, 20, 21, 59, 60, 61, 119, 120, 121, 3650, 3651])
)
def test_whole_number_rules_accept_exactly_their_range(
    name: str, low: int, high: int, value: int
) -> None:
    # min_attempts = 1, so that a max_attempts of 1 is judged on its own range.
    text = f"[rules]\nmin_attempts = 1\n{name} = {value}\n"
    if low <= value <= high:
        rules = config_from_text(text, source=CONFIG_NAME, base=Path.cwd()).rules
        assert getattr(rules, name) == value
    else:
        with pytest.raises(ConfigError, match=rf"rules\.{name} must be a whole number"):
            config_from_text(text, source=CONFIG_NAME, base=Path.cwd())


# --- Today ---------------------------------------------------------------------------------------


def test_today_is_the_date_in_the_teams_time_zone() -> None:
    late_utc = datetime(2026, 11, 20, 23, 30, tzinfo=timezone.utc)
    assert today_in(Config(timezone="Europe/Amsterdam"), late_utc) == date(2026, 11, 21)
    assert today_in(Config(timezone="America/Los_Angeles"), late_utc) == date(2026, 11, 20)
    early_utc = datetime(2026, 11, 20, 3, 0, tzinfo=timezone.utc)
    assert today_in(Config(timezone="America/Los_Angeles"), early_utc) == date(2026, 11, 19)


def test_today_without_an_injected_clock_is_a_date_in_that_zone() -> None:
    zone = ZoneInfo("Pacific/Kiritimati")  # UTC+14: differs from most machines' date
    before = datetime.now(zone).date()
    today = today_in(Config(timezone="Pacific/Kiritimati"))
    assert before <= today <= datetime.now(zone).date()


@pytest.fixture
def machine_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run with the machine's local zone set to UTC+9 (Asia/Tokyo), then restore it."""
    if not hasattr(time, "tzset"):
        pytest.skip("the local zone can only be switched where time.tzset exists")
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield "Asia/Tokyo"
    monkeypatch.undo()
    time.tzset()


def test_without_a_time_zone_the_machines_zone_counts(machine_zone: str) -> None:
    late_utc = datetime(2026, 11, 20, 20, 0, tzinfo=timezone.utc)  # 05:00 next day in Tokyo
    assert today_in(Config(), late_utc) == date(2026, 11, 21)
    # A naive clock is the machine's local time, as everywhere in Python.
    assert today_in(Config(), datetime(2026, 11, 20, 23, 59)) == date(2026, 11, 20)
    assert today_in(Config(timezone="UTC"), datetime(2026, 11, 21, 5, 0)) == date(2026, 11, 20)


def test_an_unknown_time_zone_in_a_hand_made_config_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        today_in(Config(timezone="Nowhere/Special"))


# --- Secrets are never repeated ---------------------------------------------------------------

PASSWORD_ENV_EXPECTED = (
    "sheetfollow.toml: smtp.password_env must be the NAME of the environment variable that "
    "holds the password, in capitals, digits and _ (such as 'SHEETFOLLOW_SMTP_PASSWORD')"
)


# A password pasted where the name of its variable belongs; "Summer2024" and "hunter2" are
# names to Python too, so only capitals count as a name.
@pytest.mark.parametrize("secret", ['"hunter2!x"', '"hunter2"', '"Summer2024"', "12345678"])
def test_a_password_in_password_env_is_named_never_repeated(tmp_path: Path, secret: str) -> None:
    message = error(tmp_path, f"[smtp]\npassword_env = {secret}\n")
    assert message == (
        f"{PASSWORD_ENV_EXPECTED}; what is there is not repeated here, as it may be the "
        "password itself: that belongs in the variable, or in the file smtp.password_file "
        "names, never in this file"
    )
    assert secret.strip('"') not in message


@pytest.mark.parametrize(
    ("written", "name"),
    [("$MAIL_PW", "MAIL_PW"), ("${MAIL_PW}", "MAIL_PW"), ("%MAIL_PW%", "MAIL_PW")],
)
def test_a_reference_to_a_variable_is_no_secret_and_gets_a_suggestion(
    tmp_path: Path, written: str, name: str
) -> None:
    message = error(tmp_path, f'[smtp]\npassword_env = "{written}"\n')
    assert message == f"{PASSWORD_ENV_EXPECTED}, not '{written}' (did you mean '{name}'?)"


def test_a_variable_name_is_taken(tmp_path: Path) -> None:
    assert load(tmp_path, '[smtp]\npassword_env = " MAIL_PW "\n').smtp.password_env == "MAIL_PW"


def test_a_password_file_that_is_no_text_is_not_repeated(tmp_path: Path) -> None:
    message = error(tmp_path, "[smtp]\npassword_file = 90210\n")
    assert message == (
        'sheetfollow.toml: smtp.password_file must be a path, or "", given as text in quotes'
    )
