"""The Neo4j test server's build is skipped when up to date, and missing tools are named."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from wikisaga.testing.neo4j_server import (
    TOOL_DIR,
    Neo4jTestServer,
    Neo4jTestServerError,
    build,
    missing_tools,
)


def test_the_tool_is_a_pom_and_one_java_class() -> None:
    assert (TOOL_DIR / "pom.xml").is_file()
    sources = sorted(p.name for p in (TOOL_DIR / "src").rglob("*.java"))
    assert sources == ["Main.java"]
    pom = (TOOL_DIR / "pom.xml").read_text()
    assert "<neo4j.version>5.26.30</neo4j.version>" in pom
    assert "<release>17</release>" in pom


def fake_tool(root: Path) -> Path:
    (root / "src" / "main" / "java").mkdir(parents=True)
    (root / "pom.xml").write_text("<project/>")
    (root / "src" / "main" / "java" / "Main.java").write_text("class Main {}")
    classes = root / "target" / "classes"
    classes.mkdir(parents=True)
    (classes / "Main.class").write_bytes(b"")
    (root / "target" / "cp.txt").write_text("/jars/a.jar:/jars/b.jar\n")
    return root


def test_an_up_to_date_build_is_not_redone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = fake_tool(tmp_path / "tool")
    monkeypatch.setenv("PATH", "")  # mvn cannot run: the build must not be attempted
    classpath = build(tool, maven_repo=tmp_path / "m2")
    assert classpath == f"{tool}/target/classes{os.pathsep}/jars/a.jar:/jars/b.jar"


def test_a_source_newer_than_the_build_is_rebuilt_and_a_failure_quotes_maven(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tool = fake_tool(tmp_path / "tool")
    later = time.time() + 10
    os.utime(tool / "src" / "main" / "java" / "Main.java", (later, later))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mvn").write_text("#!/bin/sh\necho 'BUILD FAILURE: no such plugin' >&2\nexit 1\n")
    (bin_dir / "mvn").chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(Neo4jTestServerError, match="BUILD FAILURE: no such plugin"):
        build(tool, maven_repo=tmp_path / "m2")


def test_missing_java_and_maven_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert missing_tools() == ["java", "mvn"]
    with pytest.raises(Neo4jTestServerError, match="java and mvn not found"):
        Neo4jTestServer(Path("/nonexistent")).start()


def test_a_server_not_started_has_no_url(tmp_path: Path) -> None:
    with pytest.raises(Neo4jTestServerError, match="not running"):
        _ = Neo4jTestServer(tmp_path).url
