"""The pages both sides of the publish benchmark write: realistic Markdown, made up.

A wiki of ``count`` pages of about ``size`` bytes each (headings, prose, lists, tables, code,
links to other pages), the same for one seed and different for another.
"""

from __future__ import annotations

import random

_SECTIONS = ("architecture", "api", "guides", "operations", "reference")
_TOPICS = (
    "authentication", "caching", "configuration", "deployment", "errors", "events",
    "indexing", "ingestion", "jobs", "logging", "metrics", "migrations", "permissions",
    "queues", "rate-limits", "retries", "search", "sessions", "storage", "tenancy",
    "testing", "tokens", "uploads", "versioning", "webhooks", "workers", "backups",
    "billing", "cli", "clients", "dashboards", "exports", "feature-flags", "graph",
    "health-checks", "imports", "limits", "notifications", "pagination", "plugins",
    "quotas", "releases", "scheduling", "secrets", "snapshots", "sync", "timeouts",
)  # fmt: skip
_VOCABULARY = (
    "the service request response client server project file version snapshot saga "
    "step rollback commit record index query cache token user owner batch restore "
    "write read path module handler worker queue event stream schema field value "
    "default timeout retry error status result config setting option limit page wiki "
    "graph node edge document section example returns accepts stores keeps sends "
    "validates checks creates deletes updates lists every each one many all before "
    "after when while until unless only also then so because with without from into"
)
_WORDS = _VOCABULARY.split()


def _sentence(rng: random.Random) -> str:
    words = rng.choices(_WORDS, k=rng.randint(8, 18))
    return " ".join(words).capitalize() + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 6)))


def wiki_page(rng: random.Random, title: str, links: list[str], size: int) -> str:
    """A Markdown page of about ``size`` characters: prose, lists, a table, code, links."""
    parts = [f"# {title.replace('-', ' ').title()}\n", _paragraph(rng) + "\n"]
    while sum(len(part) + 1 for part in parts) < size - 400:
        kind = rng.randrange(5)
        parts.append(f"## {' '.join(rng.choices(_WORDS, k=3)).title()}\n")
        if kind == 0:
            parts.extend(f"- {_sentence(rng)}" for _ in range(rng.randint(3, 6)))
            parts.append("")
        elif kind == 1:
            parts.append("| name | type | default |\n|------|------|---------|")
            parts.extend(
                f"| `{rng.choice(_WORDS)}_{rng.choice(_WORDS)}` | {rng.choice(('str', 'int'))} "
                f"| {rng.randint(0, 500)} |"
                for _ in range(rng.randint(3, 5))
            )
            parts.append("")
        elif kind == 2:
            name = f"{rng.choice(_WORDS)}_{rng.choice(_WORDS)}"
            parts.append(
                f"```python\ndef {name}(request):\n    result = {rng.choice(_WORDS)}(request)\n"
                f"    return result.{rng.choice(_WORDS)}\n```\n"
            )
        else:
            parts.append(_paragraph(rng) + "\n")
    parts.append("## See also\n")
    parts.extend(f"- [{link.rsplit('/', 1)[-1][:-3]}](../{link[5:]})" for link in links)
    return "\n".join(parts) + "\n"


def wiki_files(seed: int, count: int, size: int) -> list[dict[str, str]]:
    """``count`` distinct pages, in the guide's ``[{"file_path", "content"}]`` form."""
    rng = random.Random(seed)
    paths = [
        f"wiki/{_SECTIONS[i % len(_SECTIONS)]}/{_TOPICS[i % len(_TOPICS)]}"
        f"{'' if i < len(_TOPICS) else f'-{i // len(_TOPICS)}'}.md"
        for i in range(count)
    ]
    return [
        {
            "file_path": path,
            "content": wiki_page(rng, path.rsplit("/", 1)[-1][:-3], rng.sample(paths, 3), size),
        }
        for path in paths
    ]
