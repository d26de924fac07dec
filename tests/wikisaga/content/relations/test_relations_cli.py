"""``wikisaga relations FILE --json`` in a subprocess: valid JSON lines with every key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

KEYS = {
    "subject", "predicate", "object", "doc_id", "source", "sentence",
    "start", "end", "method", "confidence",
}  # fmt: skip

README = """# Typer

Typer is a library for building CLI applications. It is based on Click.

```python
import typer  # Django uses Jinja2
```

Typer uses Rich and Shellingham. Rich and Shellingham are optional.
Rich and Shellingham appear together, again.
"""


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wikisaga", "relations", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_json_lines_carry_every_key_and_point_into_the_file(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    done = _run(str(readme), "--json", "--topic", "Typer")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows
    for row in rows:
        assert set(row) == KEYS
        assert README[row["start"] : row["end"]].replace("\n", " ").startswith(row["sentence"][:10])
    found = {(r["subject"], r["predicate"], r["object"]) for r in rows}
    assert {
        ("typer", "is_a", "library"),
        ("typer", "extends", "click"),
        ("typer", "uses", "rich"),
        ("typer", "uses", "shellingham"),
    } <= found
    assert not any(r["subject"] == "django" for r in rows)  # code blocks are not prose


def test_a_table_without_json_and_a_directory_of_files(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("FastAPI uses Starlette.", encoding="utf-8")
    (tmp_path / "b.rst").write_text("Typer uses ``click``.", encoding="utf-8")
    (tmp_path / "c.bin").write_bytes(b"\x00\x01 ignored uses nothing")
    done = _run(str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "fastapi" in done.stdout
    assert "starlette" in done.stdout
    assert "typer" in done.stdout
    assert "click" in done.stdout
    assert "ignored" not in done.stdout
    assert done.stdout.strip().endswith("2 typed, 0 related_to")


def test_entities_as_json_lines(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("Uvicorn is an ASGI server.", encoding="utf-8")
    done = _run(str(text), "--entities", "--json")
    assert done.returncode == 0, done.stderr
    keys = {json.loads(line)["key"]: json.loads(line) for line in done.stdout.splitlines()}
    assert keys["uvicorn"]["type"] == "server"


def test_a_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    done = _run(str(tmp_path / "absent.md"))
    assert done.returncode == 2
    assert "does not exist" in done.stderr


def test_the_output_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README * 3, encoding="utf-8")
    outputs = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run(
            [sys.executable, "-m", "wikisaga", "relations", str(readme), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1
