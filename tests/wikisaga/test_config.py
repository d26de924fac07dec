"""Settings: the WIKISAGA_ variables, their defaults, their validation, and secrets kept out
of every repr and error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from wikisaga.config import Settings
from wikisaga.errors import ConfigError, WikisagaError


def test_defaults_are_those_of_the_design() -> None:
    """Nothing set: the defaults of DESIGN §7."""
    settings = Settings.from_env({})
    assert settings.data_dir == Path(".wikisaga")
    assert settings.token is None
    assert settings.effective_saga_log_url == "sqlite:///.wikisaga/sagas.db"
    assert settings.filesystem_server_url == "http://127.0.0.1:6001"
    assert settings.git_server_url == "http://127.0.0.1:6003"
    assert settings.orchestrator_url == "http://127.0.0.1:6002"
    assert (settings.filesystem_timeout, settings.git_timeout, settings.network_timeout) == (
        10.0,
        15.0,
        30.0,
    )
    assert settings.neo4j_user == "neo4j"
    assert settings.dev_mode is False


def test_values_are_read_stripped_and_typed() -> None:
    """Values are stripped, typed, URLs lose a trailing slash, empty means default."""
    settings = Settings.from_env(
        {
            "WIKISAGA_DATA_DIR": " /srv/wiki ",
            "WIKISAGA_INTERNAL_TOKEN": " s3cret ",
            "WIKISAGA_GIT_TIMEOUT": "2.5",
            "WIKISAGA_CHROMA_URL": "http://chroma:8000/",
            "WIKISAGA_NEO4J_USER": "",
            "WIKISAGA_DEV_MODE": "yes",
        }
    )
    assert settings.data_dir == Path("/srv/wiki")
    assert settings.token == "s3cret"
    assert settings.git_timeout == 2.5
    assert settings.chroma_url == "http://chroma:8000"
    assert settings.neo4j_user == "neo4j"
    assert settings.dev_mode is True


def test_keyword_arguments_read_no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """``Settings(...)`` is what the caller says; only ``from_env`` reads the environment."""
    monkeypatch.setenv("WIKISAGA_GIT_TIMEOUT", "1")
    assert Settings().git_timeout == 15.0
    assert Settings.from_env().git_timeout == 1.0


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("WIKISAGA_GIT_TIMEOUT", "soon", "positive number of seconds"),
        ("WIKISAGA_FILESYSTEM_TIMEOUT", "-1", "positive number of seconds"),
        ("WIKISAGA_GIT_SERVER_URL", "ftp://git", "http:// or https://"),
        ("WIKISAGA_DEV_MODE", "maybe", "boolean"),
    ],
)
def test_an_unusable_value_is_one_error_naming_the_variable(
    name: str, value: str, reason: str
) -> None:
    """A bad value raises ConfigError (a WikisagaError and a ValueError) naming it."""
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={value!r}: ")
    assert reason in message
    assert isinstance(caught.value, WikisagaError)
    assert isinstance(caught.value, ValueError)


def test_secrets_never_show_in_a_repr_or_an_error() -> None:
    """The token and the Neo4j password are SecretStr: no repr, str or error shows them."""
    settings = Settings.from_env(
        {"WIKISAGA_INTERNAL_TOKEN": "tok-visible", "WIKISAGA_NEO4J_PASSWORD": "pw-visible"}
    )
    for text in (repr(settings), str(settings), str(settings.model_dump())):
        assert "tok-visible" not in text
        assert "pw-visible" not in text
    assert settings.token == "tok-visible"
    assert settings.neo4j_password.get_secret_value() == "pw-visible"


def test_with_changes_validates_and_keeps_the_rest() -> None:
    """A copy with some settings replaced is validated like the original."""
    settings = Settings.from_env({"WIKISAGA_INTERNAL_TOKEN": "t", "WIKISAGA_GIT_TIMEOUT": "3"})
    changed = settings.with_changes(dev_mode=True)
    assert changed.dev_mode is True
    assert changed.token == "t"
    assert changed.git_timeout == 3.0
    with pytest.raises(ConfigError, match="WIKISAGA_GIT_TIMEOUT"):
        settings.with_changes(git_timeout=0)


def test_the_same_environment_gives_the_same_settings_and_a_change_is_seen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``from_env`` validates an environment's values once: the same values give back the
    same frozen settings, while any change of a ``WIKISAGA_`` variable is read anew, and
    other variables are not looked at."""
    for name in list(os.environ):
        if name.startswith("WIKISAGA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("WIKISAGA_GIT_TIMEOUT", "4")
    first = Settings.from_env()
    assert Settings.from_env() is first
    monkeypatch.setenv("UNRELATED_VARIABLE", "x")
    assert Settings.from_env() is first
    monkeypatch.setenv("WIKISAGA_GIT_TIMEOUT", "5")
    assert Settings.from_env().git_timeout == 5.0
    monkeypatch.delenv("WIKISAGA_GIT_TIMEOUT")
    assert Settings.from_env().git_timeout == 15.0
    monkeypatch.setenv("WIKISAGA_GIT_TIMEOUT", "4")
    assert Settings.from_env() == first
    # A mapping is read the same way as the process environment.
    assert Settings.from_env({"WIKISAGA_GIT_TIMEOUT": "4"}) == first


def test_an_unusable_value_is_refused_every_time() -> None:
    """A refused environment is not remembered as if it had been read."""
    for _ in range(2):
        with pytest.raises(ConfigError, match="WIKISAGA_GIT_TIMEOUT"):
            Settings.from_env({"WIKISAGA_GIT_TIMEOUT": "soon"})
