"""Session cookies: signed, expiring, refused when altered; the origin rule of POSTs."""

from __future__ import annotations

import time
from pathlib import Path

from pydantic import SecretStr

from wikisaga.config import Settings
from wikisaga.services.backend.dashboard.session import (
    Session,
    SessionSigner,
    same_origin,
    server_secret,
)


def test_a_signed_session_reads_back_and_an_altered_one_does_not() -> None:
    signer = SessionSigner(b"s" * 32)
    session = Session.anonymous().signed_in("alice", "0badc0de")
    value = signer.dumps(session)
    assert signer.loads(value) == session
    payload, _, mac = value.partition(".")
    assert signer.loads(f"{payload}x.{mac}") is None
    assert signer.loads(f"{payload}.{mac[:-2]}AA") is None
    assert SessionSigner(b"t" * 32).loads(value) is None
    assert signer.loads("") is None
    assert signer.loads("garbage") is None


def test_sessions_expire() -> None:
    signer = SessionSigner(b"s" * 32, max_age=60)
    old = Session(csrf="c", issued_at=time.time() - 61, user="alice", key_id="k")
    assert signer.loads(signer.dumps(old)) is None


def test_signing_in_changes_the_csrf_token() -> None:
    anonymous = Session.anonymous()
    signed = anonymous.signed_in("alice", "k")
    assert signed.csrf != anonymous.csrf
    assert signed.check_csrf(signed.csrf)
    assert not signed.check_csrf(anonymous.csrf)
    assert not signed.check_csrf("")
    assert not signed.check_csrf(None)


def test_the_server_secret_is_kept_in_the_data_dir_unless_set(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first = server_secret(settings)
    assert len(first) == 32
    assert server_secret(settings) == first
    assert (tmp_path / "dashboard-secret").stat().st_mode & 0o077 == 0
    chosen = Settings(data_dir=tmp_path, dashboard_secret=SecretStr("operator-secret"))
    assert server_secret(chosen) == b"operator-secret"


def test_only_the_dashboards_own_origin_may_post() -> None:
    ok = {"scheme": "http", "host": "127.0.0.1:6000"}
    assert same_origin("http://127.0.0.1:6000", None, **ok)
    assert same_origin(None, "http://127.0.0.1:6000/ui/p/x", **ok)
    assert same_origin(None, None, **ok)  # not a browser: the CSRF token decides
    assert not same_origin("http://evil.example", None, **ok)
    assert not same_origin("https://127.0.0.1:6000", None, **ok)
    assert not same_origin("null", None, **ok)
    assert not same_origin(None, "http://127.0.0.1:6001/", **ok)
