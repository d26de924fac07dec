"""``wikisaga relations FILE --json`` in a subprocess: valid JSON lines with every key.

Files are read through :mod:`wikisaga.content.parsing`, so offsets point into the parsed
document's prose (``ParsedDocument.text``), not into the raw file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from wikisaga.content.parsing import parse

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
    prose = parse(README, "markdown", fallback_title="README").text
    for row in rows:
        assert set(row) == KEYS
        assert " ".join(prose[row["start"] : row["end"]].split()) == row["sentence"]
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


def test_markup_and_code_of_every_format_never_reach_the_extractor(tmp_path: Path) -> None:
    (tmp_path / "a.rst").write_text(
        "Typer uses ``click``.\n\n.. code-block:: python\n\n   Django uses Jinja2.\n",
        encoding="utf-8",
    )
    (tmp_path / "b.html").write_text(
        "<p>Uvicorn uses <a href='https://h11.example'>h11</a>.</p>"
        "<pre>Flask uses Werkzeug.</pre><script>Vue uses Vite.</script>",
        encoding="utf-8",
    )
    done = _run(str(tmp_path), "--json", "--no-related")
    assert done.returncode == 0, done.stderr
    found = {
        (r["subject"], r["predicate"], r["object"])
        for r in map(json.loads, done.stdout.splitlines())
    }
    assert found == {("typer", "uses", "click"), ("uvicorn", "uses", "h11")}


def test_a_file_that_cannot_be_parsed_is_skipped_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "blob.bin").write_bytes(b"\x00\x01 Flask uses Werkzeug")
    (tmp_path / "ok.md").write_text("FastAPI uses Starlette.", encoding="utf-8")
    done = _run(str(tmp_path / "blob.bin"), str(tmp_path / "ok.md"), "--json")
    assert done.returncode == 0, done.stderr
    assert "skipped" in done.stderr
    assert "binary" in done.stderr
    subjects = {json.loads(line)["subject"] for line in done.stdout.splitlines()}
    assert subjects == {"fastapi"}
