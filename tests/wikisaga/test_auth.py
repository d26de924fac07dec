"""get_internal_headers and check_internal_token: what every internal client sends."""

from __future__ import annotations

import pytest

from wikisaga.auth import check_internal_token, get_internal_headers
from wikisaga.config import ConfigError, Settings


def test_headers_carry_the_token_from_settings() -> None:
    assert get_internal_headers(settings=Settings(internal_token="s3cret")) == {
        "X-INTERNAL-TOKEN": "s3cret"
    }


def test_headers_add_the_user_when_given() -> None:
    headers = get_internal_headers("user-456", Settings(internal_token="s3cret"))
    assert headers == {"X-INTERNAL-TOKEN": "s3cret", "X-User-ID": "user-456"}


def test_headers_read_the_token_from_the_environment_without_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WIKISAGA_INTERNAL_TOKEN", "from-env")
    assert get_internal_headers("u") == {"X-INTERNAL-TOKEN": "from-env", "X-User-ID": "u"}


def test_settings_take_precedence_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIKISAGA_INTERNAL_TOKEN", "from-env")
    headers = get_internal_headers(settings=Settings(internal_token="from-settings"))
    assert headers["X-INTERNAL-TOKEN"] == "from-settings"


def test_headers_without_any_token_raise_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WIKISAGA_INTERNAL_TOKEN", raising=False)
    with pytest.raises(ConfigError, match="WIKISAGA_INTERNAL_TOKEN"):
        get_internal_headers()
    with pytest.raises(ConfigError, match="WIKISAGA_INTERNAL_TOKEN"):
        get_internal_headers(settings=Settings())


def test_headers_are_a_fresh_dict_the_caller_may_update() -> None:
    settings = Settings(internal_token="t")
    first = get_internal_headers(settings=settings)
    first["X-User-ID"] = "someone"
    assert get_internal_headers(settings=settings) == {"X-INTERNAL-TOKEN": "t"}


@pytest.mark.parametrize(
    ("given", "expected", "ok"),
    [
        ("token", "token", True),
        ("token", "tokem", False),
        ("token", "token2", False),
        ("", "token", False),
        (None, "token", False),
        ("token", "", False),
        ("", "", False),
        ("tökén", "tökén", True),
        ("tökén", "token", False),
    ],
)
def test_check_internal_token_matches_only_the_exact_non_empty_token(
    given: str | None, expected: str, ok: bool
) -> None:
    assert check_internal_token(given, expected) is ok
