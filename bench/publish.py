"""Publishing a 45-file wiki: this saga's requests against the guide's, on real services.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/publish.py               # about a minute and a half
    .venv/bin/python bench/publish.py --quick       # a few seconds, for a smoke test
    .venv/bin/python bench/publish.py --rounds 10 --files 45
    .venv/bin/python bench/publish.py --dir /mnt/ssd   # put the services' data elsewhere
    .venv/bin/python bench/publish.py --profile --rounds 10   # where our side's time goes

One filesystem service and one git service are started once, as real subprocesses, with
their data in a temporary directory (``wikisaga.testing.stack.ServiceStack``; the requests
go to the services directly, not through its fault proxies). Three operations are timed,
each done both ways:

``save``      ours: ``GET /files/{project}`` (to plan the rollback) then one
              ``POST /batch`` with an ``Idempotency-Key``, exactly as
              ``WikiGenerationSaga`` sends them (``FilesystemClient.list_files`` and
              ``FilesystemClient.batch``). The guide's: one ``POST /save_file`` per file, one
              after another, on one kept-alive ``httpx.Client`` reused across the whole run.
``rollback``  undoing what ``save`` wrote. Ours: the saga's registered compensation
              ``wikisaga.files.restore`` called with the arguments the saga logs (one
              ``POST /restore`` putting every file back to absent and revoking the batch's
              key; it opens its own client, as recovery would). The guide's: one
              ``DELETE /file/{project}/{path}`` per file, on the kept-alive client.
``publish``   files and snapshot. Ours: ``WikiGenerationSaga.execute_with_consistency``
              with its default durability, a SQLite saga log (WAL, ``synchronous=FULL``)
              opened from its URL as the saga does by default. The guide's: the 45
              ``POST /save_file`` then ``POST /snapshot/{project}``, and no log at all.

Every measured repetition writes to a project of its own, never written before, so neither
side meets the other's state; both sides get the same 45 pages (realistic Markdown of about
4 KB each, different in every round). Each round runs every operation both ways, the side
that goes first alternating from round to round, after one warm-up round that is not timed.
Each figure is the median over the rounds; ``*_paired`` are the medians of the ratios taken
round by round. The last line of standard output is one JSON object (progress goes to
standard error).

``--profile`` compares nothing: it runs our side of each operation ``--rounds`` times with
timers around its parts (client construction, each request, the saga log's open, commits
and close) and prints the mean of each part.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

import wikisaga.pipeline.publish
from distributed_saga import open_saga_log
from distributed_saga.log.sqlite import SQLiteSagaLog
from wikisaga.clients import FilesystemClient, GitClient
from wikisaga.clients._http import ServiceClient
from wikisaga.pipeline.compensations import FILES_RESTORE, restore_files
from wikisaga.pipeline.publish import WikiGenerationSaga
from wikisaga.testing.stack import ServiceStack

USER = "bench-user"
TARGETS = {"save_vs_naive": 10.0, "rollback_vs_naive": 10.0}
OPERATIONS = ("save", "rollback", "publish")
TIMEOUT = 60.0

# -- the pages ---------------------------------------------------------------------------

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


# -- the two ways ------------------------------------------------------------------------


@dataclass
class Bench:
    """Both ways of doing each operation, against one running stack."""

    stack: ServiceStack
    log_url: str
    message: str = "Auto-generated wiki"
    saved: dict[str, str] = field(default_factory=dict)  # project -> its batch's key
    _counter: int = 0

    def __post_init__(self) -> None:
        self.fs_url = self.stack.filesystem.url
        self.git_url = self.stack.git.url
        self.ours = FilesystemClient(self.fs_url, headers=self.stack.headers, timeout=TIMEOUT)
        # The guide's side: one client, kept alive for the whole run, headers set once.
        self.naive_fs = httpx.Client(
            base_url=self.fs_url,
            headers={**self.stack.headers, "X-User-ID": USER},
            timeout=TIMEOUT,
        )
        self.naive_git = httpx.Client(
            base_url=self.git_url,
            headers={**self.stack.headers, "X-User-ID": USER},
            timeout=TIMEOUT,
        )

    def close(self) -> None:
        self.ours.close()
        self.naive_fs.close()
        self.naive_git.close()

    def project(self, side: str, operation: str) -> str:
        self._counter += 1
        return f"bench-{operation}-{side}-{self._counter:05d}"

    # ours

    def ours_save(self, project: str, files: list[dict[str, str]]) -> None:
        current = self.ours.list_files(project, user_id=USER)
        save = [(f["file_path"], f["content"]) for f in files]
        prior = {entry["path"] for entry in current}
        key = f"wiki-{project}:files"
        self.ours.batch(
            project,
            save=save,
            delete=sorted(prior - {path for path, _ in save}),
            user_id=USER,
            idempotency_key=key,
        )
        self.saved[project] = key

    def ours_rollback(self, project: str, files: list[dict[str, str]]) -> None:
        # The arguments WikiGenerationSaga logs with the files step (every file was absent).
        restore_files(
            {
                "saga_id": f"wiki-{project}",
                "project_id": project,
                "user_id": USER,
                "filesystem_url": self.fs_url,
                "timeout": TIMEOUT,
                "idempotency_key": self.saved.pop(project),
                "files": [{"path": f["file_path"], "version": None} for f in files],
            },
            headers=self.stack.headers,
        )

    def ours_publish(self, project: str, files: list[dict[str, str]]) -> None:
        saga = WikiGenerationSaga(
            project_id=project,
            user_id=USER,
            filesystem_url=self.fs_url,
            git_url=self.git_url,
            internal_headers=self.stack.headers,
            saga_log=self.log_url,
            filesystem_timeout=TIMEOUT,
            git_timeout=TIMEOUT,
            message=self.message,
        )
        result = saga.execute_with_consistency(files)
        if result["status"] != "success":
            raise RuntimeError(f"our publish failed: {result['error']}")

    # the guide's

    def naive_save(self, project: str, files: list[dict[str, str]]) -> None:
        post = self.naive_fs.post
        for f in files:
            response = post(
                "/save_file",
                json={"project_id": project, "file_path": f["file_path"], "content": f["content"]},
            )
            response.raise_for_status()

    def naive_rollback(self, project: str, files: list[dict[str, str]]) -> None:
        delete = self.naive_fs.delete
        for f in files:
            delete(f"/file/{project}/{quote(f['file_path'])}").raise_for_status()

    def naive_publish(self, project: str, files: list[dict[str, str]]) -> float:
        """Returns the milliseconds the snapshot request took (part of the publish)."""
        self.naive_save(project, files)
        return _timed(
            lambda: self.naive_git.post(
                f"/snapshot/{project}", json={"user_id": USER, "message": self.message}
            ).raise_for_status()
        )

    # checks, outside the timings

    def check(self, project: str, files: list[dict[str, str]], *, present: bool) -> None:
        listed = {entry["path"] for entry in self.ours.list_files(project, user_id=USER)}
        expected = {f["file_path"] for f in files} if present else set()
        if listed != expected:
            raise RuntimeError(
                f"{project}: {len(listed)} files where {len(expected)} were expected"
            )

    def check_snapshot(self, project: str, files: list[dict[str, str]]) -> None:
        response = self.naive_git.get(f"/snapshots/{project}")
        response.raise_for_status()
        snapshots = response.json()["snapshots"]
        if len(snapshots) != 1:
            raise RuntimeError(f"{project}: {len(snapshots)} snapshots, expected 1")
        self.check(project, files, present=True)


# -- running -----------------------------------------------------------------------------


@dataclass
class Timings:
    """Milliseconds per round, by operation and side."""

    ms: dict[str, dict[str, list[float]]] = field(
        default_factory=lambda: {op: {"ours": [], "naive": []} for op in OPERATIONS}
    )
    snapshot_ms: list[float] = field(default_factory=list)

    def median(self, operation: str, side: str) -> float:
        return statistics.median(self.ms[operation][side])

    def ratio(self, operation: str) -> float:
        return self.median(operation, "naive") / self.median(operation, "ours")

    def paired(self, operation: str) -> float:
        sides = self.ms[operation]
        return statistics.median(n / o for o, n in zip(sides["ours"], sides["naive"], strict=True))


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000.0


def run_round(bench: Bench, number: int, args: argparse.Namespace, timings: Timings | None) -> None:
    """Every operation both ways; ``timings`` None for the warm-up."""
    files = wiki_files(number, args.files, args.size)
    sides = ("ours", "naive") if number % 2 == 0 else ("naive", "ours")
    projects = {side: bench.project(side, "save") for side in sides}

    for side in sides:
        do = bench.ours_save if side == "ours" else bench.naive_save
        ms = _timed(lambda do=do, side=side: do(projects[side], files))
        bench.check(projects[side], files, present=True)
        if timings is not None:
            timings.ms["save"][side].append(ms)

    for side in sides:
        do = bench.ours_rollback if side == "ours" else bench.naive_rollback
        ms = _timed(lambda do=do, side=side: do(projects[side], files))
        bench.check(projects[side], files, present=False)
        if timings is not None:
            timings.ms["rollback"][side].append(ms)

    for side in sides:
        project = bench.project(side, "publish")
        started = time.perf_counter()
        if side == "ours":
            bench.ours_publish(project, files)
        else:
            snapshot_ms = bench.naive_publish(project, files)
        ms = (time.perf_counter() - started) * 1000.0
        bench.check_snapshot(project, files)
        if timings is not None:
            timings.ms["publish"][side].append(ms)
            if side == "naive":
                timings.snapshot_ms.append(snapshot_ms)


def measure(bench: Bench, args: argparse.Namespace) -> Timings:
    timings = Timings()
    for number in range(args.warmup):
        run_round(bench, 10_000 + number, args, None)
    for number in range(args.rounds):
        run_round(bench, number, args, timings)
        if (number + 1) % max(1, args.rounds // 10) == 0 or number + 1 == args.rounds:
            last = ", ".join(
                f"{op} {timings.ms[op]['ours'][-1]:.0f}/{timings.ms[op]['naive'][-1]:.0f} ms"
                for op in OPERATIONS
            )
            print(f"round {number + 1}/{args.rounds} (ours/naive): {last}", file=sys.stderr)
    return timings


# -- reporting ---------------------------------------------------------------------------

_WHAT = {
    "save": (
        "1 GET /files + 1 POST /batch (idempotent)",
        "{n} x POST /save_file",
    ),
    "rollback": (
        "1 POST /restore (new client, as recovery)",
        "{n} x DELETE /file",
    ),
    "publish": (
        "saga: durable log + list + batch + snapshot",
        "{n} x POST /save_file + snapshot; no log",
    ),
}


def report(timings: Timings, args: argparse.Namespace, sizes: list[int]) -> dict[str, Any]:
    n = args.files
    print()
    header = (
        f"{'operation':<10} {'ours ms':>9} {'naive ms':>9} {'naive/ours':>10}   {'ours':<54} naive"
    )
    print(header)
    print("-" * (len(header) + 34))
    for op in OPERATIONS:
        ours_what, naive_what = _WHAT[op]
        print(
            f"{op:<10} {timings.median(op, 'ours'):>9.1f} {timings.median(op, 'naive'):>9.1f} "
            f"{timings.ratio(op):>10.2f}   {ours_what:<54} {naive_what.format(n=n)}"
        )
    snapshot = statistics.median(timings.snapshot_ms)
    ceiling = timings.median("publish", "naive") / snapshot
    print()
    print(
        f"{n} files of {min(sizes):,}-{max(sizes):,} bytes ({sum(sizes) / 1024:,.0f} KiB in all); "
        f"median of {args.rounds} rounds, the side going first alternating every round."
    )
    print(
        f"publish: our saga also writes a durable log ({args.log_settings}; every step's "
        f"compensation is committed before the step runs); the naive one keeps nothing. "
        f"The snapshot alone took {snapshot:.1f} ms (median), so no publish can be more than "
        f"{ceiling:.1f}x faster than the naive one here."
    )
    for key, target in TARGETS.items():
        value = timings.ratio(key.removesuffix("_vs_naive"))
        print(
            f"{key} = {value:.2f} (target >= {target:g}: {'met' if value >= target else 'NOT met'})"
        )
    load = [round(args.load_before, 2), round(os.getloadavg()[0], 2)]
    print(f"load average (1 min) before/after: {load[0]} / {load[1]} on {os.cpu_count()} CPUs")

    summary: dict[str, Any] = {
        "benchmark": "publish",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version,
            "load_average_1m": load,
        },
        "rounds": args.rounds,
        "warmup_rounds": args.warmup,
        "files": n,
        "bytes_per_file": {"min": min(sizes), "max": max(sizes), "mean": sum(sizes) / len(sizes)},
        "targets": TARGETS,
        "save_vs_naive": timings.ratio("save"),
        "rollback_vs_naive": timings.ratio("rollback"),
        "publish_vs_naive": timings.ratio("publish"),
        "save_vs_naive_paired": timings.paired("save"),
        "rollback_vs_naive_paired": timings.paired("rollback"),
        "publish_vs_naive_paired": timings.paired("publish"),
        "publish_vs_naive_ceiling": ceiling,
        "snapshot_ms": snapshot,
        "ours_log": args.log_settings,
        "naive_log": None,
    }
    for op in OPERATIONS:
        for side in ("ours", "naive"):
            summary[f"{op}_{side}_ms"] = timings.median(op, side)
    summary["round_ms"] = {
        op: {side: [round(v, 2) for v in values] for side, values in sides.items()}
        for op, sides in timings.ms.items()
    }
    summary["round_ms"]["snapshot"] = [round(v, 2) for v in timings.snapshot_ms]
    return summary


# -- where our time goes ------------------------------------------------------------------

# What ``--profile`` times inside our side, outermost call only: (owner, attribute, label).
_PARTS: tuple[tuple[Any, str, str], ...] = (
    (ServiceClient, "__init__", "new httpx client (builds an SSL context)"),
    (FilesystemClient, "list_files", "GET /files"),
    (FilesystemClient, "batch", "POST /batch"),
    (FilesystemClient, "restore", "POST /restore"),
    (GitClient, "create_snapshot", "POST /snapshot"),
    (wikisaga.pipeline.publish, "open_saga_log", "saga log: open (schema check)"),
    (SQLiteSagaLog, "_transact", "saga log: transactions (each a synced commit)"),
    (SQLiteSagaLog, "close", "saga log: close (checkpoints the WAL)"),
)


@contextmanager
def timed_parts() -> Iterator[dict[str, list[float]]]:
    """Wrap :data:`_PARTS` with timers for the block; yields label -> [ms, calls]."""
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    local = threading.local()
    main = threading.main_thread()
    originals = []

    def timer(function: Callable[..., Any], label: str) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            # Only the calling thread's outermost timed call counts (not lease renewals).
            if threading.current_thread() is not main or getattr(local, "busy", False):
                return function(*args, **kwargs)
            local.busy = True
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                local.busy = False
                entry = spent[label]
                entry[0] += (time.perf_counter() - started) * 1000.0
                entry[1] += 1

        return timed

    for owner, name, label in _PARTS:
        original = getattr(owner, name, None)
        if original is not None:
            originals.append((owner, name, original))
            setattr(owner, name, timer(original, label))
    try:
        yield spent
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def profile(bench: Bench, args: argparse.Namespace) -> None:
    """Print where each of our operations spends its time, part by part (means)."""
    operations: dict[str, Callable[[str, list[dict[str, str]]], None]] = {
        "save": bench.ours_save,
        "rollback": bench.ours_rollback,
        "publish": bench.ours_publish,
    }
    for number in range(args.warmup):
        run_round(bench, 10_000 + number, args, None)
    repetitions = args.rounds
    print(f"our side, mean of {repetitions} runs of each operation (ms):")
    saved: list[str] = []
    for operation, do in operations.items():
        total = 0.0
        with timed_parts() as spent:
            for number in range(repetitions):
                files = wiki_files(number, args.files, args.size)
                if operation == "rollback":
                    project = saved[number]
                else:
                    project = bench.project("ours", f"profile-{operation}")
                    if operation == "save":
                        saved.append(project)
                total += _timed(lambda do=do, project=project, files=files: do(project, files))
        print(f"\n{operation:<52} {total / repetitions:>8.1f}   calls/run")
        accounted = 0.0
        for label, (ms, calls) in sorted(spent.items(), key=lambda item: -item[1][0]):
            accounted += ms
            print(f"  {label:<50} {ms / repetitions:>8.1f}   {calls / repetitions:g}")
        print(f"  {'everything else':<50} {(total - accounted) / repetitions:>8.1f}")


def log_settings(url: str, path: Path) -> str:
    """The saga log's settings, opened from its URL as the saga opens it."""
    log = open_saga_log(url)
    try:
        synchronous = getattr(log, "synchronous", "?")
    finally:
        log.close()
    connection = sqlite3.connect(path)
    try:
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        connection.close()
    return f"SQLite {str(journal).upper()}, synchronous={synchronous}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds (2 rounds)")
    parser.add_argument("--rounds", type=int, help="alternating rounds (default 30)")
    parser.add_argument("--warmup", type=int, help="untimed rounds first (default 2)")
    parser.add_argument("--files", type=int, default=45, help="pages per wiki (default 45)")
    parser.add_argument("--size", type=int, default=4096, help="about this many bytes a page")
    parser.add_argument("--dir", type=Path, help="where the services' data go (default: /tmp)")
    parser.add_argument(
        "--profile", action="store_true", help="time the parts of our side instead of comparing"
    )
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (2 if args.quick else 30)
    args.warmup = (0 if args.quick else 2) if args.warmup is None else args.warmup
    if args.rounds < 1 or args.warmup < 0 or args.files < 1 or args.size < 600:
        parser.error("--rounds and --files must be positive, --warmup not negative, --size >= 600")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    args.load_before = os.getloadavg()[0]
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="publish-bench-", dir=args.dir))
    try:
        with ServiceStack(workdir / "stack") as stack:
            log_url = f"sqlite:///{workdir / 'sagas.db'}"
            bench = Bench(stack, log_url)
            try:
                if args.profile:
                    profile(bench, args)
                    return 0
                timings = measure(bench, args)
            finally:
                bench.close()
            args.log_settings = log_settings(log_url, workdir / "sagas.db")
        sizes = [len(f["content"].encode()) for f in wiki_files(0, args.files, args.size)]
        summary = report(timings, args, sizes)
        summary["compensation"] = FILES_RESTORE
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps(summary, sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
