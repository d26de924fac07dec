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

``save``      ours: one ``POST /batch`` with ``"replace": true`` and an
              ``Idempotency-Key``, exactly as ``WikiGenerationSaga`` sends it
              (``FilesystemClient.batch(..., replace=True)``; nothing is read first). The
              guide's: one ``POST /save_file`` per file, one after another, on one
              kept-alive ``httpx.Client`` reused across the whole run.
``rollback``  undoing what ``save`` wrote. Ours: the saga's registered compensation
              ``wikisaga.files.restore`` called with the arguments the saga logs (the
              batch's key and ``undo``: one ``POST /restore`` with
              ``undo_idempotency_key``, which puts every file the batch changed back, here
              to absent, and revokes the key; it opens its own client, as recovery would).
              The guide's: one ``DELETE /file/{project}/{path}`` per file, on the
              kept-alive client.
``publish``   files and snapshot. Ours: ``WikiGenerationSaga.execute_with_consistency``
              with its default durability, a SQLite saga log (WAL, ``synchronous=FULL``)
              named by its URL, as the guide's code names it: the process's shared log,
              opened by the first publish and lent to the next. The guide's: the 45
              ``POST /save_file`` then ``POST /snapshot/{project}``, and no log at all.

Every measured repetition writes to a project of its own, never written before, so neither
side meets the other's state; both sides get the same 45 pages (realistic Markdown of about
4 KB each, different in every round; ``_wiki_pages.py``). Each round runs every operation
both ways, the side that goes first alternating from round to round, after two warm-up
rounds that are not timed (``--warmup``). Each figure is the median over the rounds;
``*_paired`` are the medians of the ratios taken round by round. The rounds, the figures
and the report are ``_harness.py``'s. The last line of standard output is one JSON object
(progress goes to standard error).

``--profile`` compares nothing: it runs our side of each operation ``--rounds`` times with
timers around its parts (client construction, each request, the saga log's commits, and
its open and close when they happen) and prints the mean of each part.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import _harness
import httpx
from _wiki_pages import wiki_files

import distributed_saga.log
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
SIDES = ("ours", "naive")
TIMEOUT = 60.0

# -- the two ways ------------------------------------------------------------------------


@dataclass
class Bench:
    """Both ways of doing each operation, against one running stack."""

    stack: ServiceStack
    log_url: str
    message: str = "Auto-generated wiki"
    saved: dict[str, str] = field(default_factory=dict)  # project -> its batch's key
    snapshot_ms: float = 0.0  # the last naive publish's snapshot request
    headers: dict[str, str] = field(init=False)  # the internal headers, built once
    _counter: int = 0

    def __post_init__(self) -> None:
        self.fs_url = self.stack.filesystem.url
        self.git_url = self.stack.git.url
        # Built once, as the guide's side's are (the stack makes them anew on every call).
        self.headers = self.stack.headers
        self.ours = FilesystemClient(self.fs_url, headers=self.headers, timeout=TIMEOUT)
        # The guide's side: one client, kept alive for the whole run, headers set once.
        self.naive_fs = httpx.Client(
            base_url=self.fs_url,
            headers={**self.headers, "X-User-ID": USER},
            timeout=TIMEOUT,
        )
        self.naive_git = httpx.Client(
            base_url=self.git_url,
            headers={**self.headers, "X-User-ID": USER},
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
        key = f"wiki-{project}:files"
        self.ours.batch(
            project,
            save=[(f["file_path"], f["content"]) for f in files],
            replace=True,
            user_id=USER,
            idempotency_key=key,
        )
        self.saved[project] = key

    def ours_rollback(self, project: str, files: list[dict[str, str]]) -> None:
        # The arguments WikiGenerationSaga logs with the files step: the batch's key only.
        restore_files(
            {
                "saga_id": f"wiki-{project}",
                "project_id": project,
                "user_id": USER,
                "filesystem_url": self.fs_url,
                "timeout": TIMEOUT,
                "idempotency_key": self.saved.pop(project),
                "undo": True,
            },
            headers=self.headers,
        )

    def ours_publish(self, project: str, files: list[dict[str, str]]) -> None:
        saga = WikiGenerationSaga(
            project_id=project,
            user_id=USER,
            filesystem_url=self.fs_url,
            git_url=self.git_url,
            internal_headers=self.headers,
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

    def naive_publish(self, project: str, files: list[dict[str, str]]) -> None:
        """Keeps in :attr:`snapshot_ms` the time its snapshot request took."""
        self.naive_save(project, files)
        self.snapshot_ms = 1000.0 * _harness.timed(
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


# -- the rounds -------------------------------------------------------------------------


def round_player(
    bench: Bench, args: argparse.Namespace
) -> Callable[[int, list[str], _harness.Samples], None]:
    """Plays one round: every operation both ways, its outcome checked outside the timing.

    Samples are milliseconds by ``"{operation} {side}"``, and the naive publish's
    ``"snapshot"``. A save and its rollback share one project per side; a publish gets
    one of its own.
    """
    ways = {
        "ours": {
            "save": bench.ours_save,
            "rollback": bench.ours_rollback,
            "publish": bench.ours_publish,
        },
        "naive": {
            "save": bench.naive_save,
            "rollback": bench.naive_rollback,
            "publish": bench.naive_publish,
        },
    }

    def check_present(project: str, files: list[dict[str, str]]) -> None:
        bench.check(project, files, present=True)

    def check_absent(project: str, files: list[dict[str, str]]) -> None:
        bench.check(project, files, present=False)

    def play(number: int, sides: list[str], samples: _harness.Samples) -> None:
        files = wiki_files(number, args.files, args.size)
        saved = {side: bench.project(side, "save") for side in sides}
        published = {side: bench.project(side, "publish") for side in sides}
        for operation, projects, check in (
            ("save", saved, check_present),
            ("rollback", saved, check_absent),
            ("publish", published, bench.check_snapshot),
        ):
            for side in sides:
                ms = 1000.0 * _harness.timed(ways[side][operation], projects[side], files)
                check(projects[side], files)
                samples.add(f"{operation} {side}", ms)
        samples.add("snapshot", bench.snapshot_ms)

    return play


def measure(bench: Bench, args: argparse.Namespace) -> _harness.Samples:
    """Warm-up rounds, then ``--rounds`` rounds, the side going first alternating."""

    def progress(samples: _harness.Samples) -> str:
        last = samples.last
        return " (ours/naive): " + ", ".join(
            f"{op} {last(f'{op} ours'):.0f}/{last(f'{op} naive'):.0f} ms" for op in OPERATIONS
        )

    return _harness.run_rounds(
        SIDES,
        round_player(bench, args),
        rounds=args.rounds,
        order=_harness.alternating_order,
        warmup_rounds=args.warmup,
        progress=progress,
    )


# -- reporting ---------------------------------------------------------------------------

_WHAT = {
    "save": (
        "1 POST /batch, replace (idempotent)",
        "{n} x POST /save_file",
    ),
    "rollback": (
        "1 POST /restore, undo by key (new client)",
        "{n} x DELETE /file",
    ),
    "publish": (
        "saga: durable log + batch + snapshot",
        "{n} x POST /save_file + snapshot; no log",
    ),
}


def report(samples: _harness.Samples, args: argparse.Namespace, sizes: list[int]) -> dict[str, Any]:
    """Print the table and the headline ratios; returns the JSON summary."""
    n = args.files

    def ratio(op: str) -> float:
        return samples.ratio(f"{op} naive", f"{op} ours")

    rows = [
        (
            op,
            f"{samples.median(f'{op} ours'):.1f}",
            f"{samples.median(f'{op} naive'):.1f}",
            f"{ratio(op):.2f}",
            _WHAT[op][0],
            _WHAT[op][1].format(n=n),
        )
        for op in OPERATIONS
    ]
    print()
    header = ("operation", "ours ms", "naive ms", "naive/ours", "ours", "naive")
    _harness.print_table(header, rows, "<>>><<")
    snapshot = samples.median("snapshot")
    ceiling = samples.median("publish naive") / snapshot
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

    summary = _harness.summary("publish", args)
    summary |= {
        "warmup_rounds": args.warmup,
        "files": n,
        "bytes_per_file": {"min": min(sizes), "max": max(sizes), "mean": sum(sizes) / len(sizes)},
        "targets": TARGETS,
        "publish_vs_naive_ceiling": ceiling,
        "snapshot_ms": snapshot,
        "ours_log": args.log_settings,
        "naive_log": None,
    }
    for op in OPERATIONS:
        summary[f"{op}_vs_naive"] = ratio(op)
        summary[f"{op}_vs_naive_paired"] = samples.paired(f"{op} naive", f"{op} ours")
        for side in SIDES:
            summary[f"{op}_{side}_ms"] = samples.median(f"{op} {side}")
    summary["round_ms"] = {
        op: {side: [round(v, 2) for v in samples[f"{op} {side}"]] for side in SIDES}
        for op in OPERATIONS
    }
    summary["round_ms"]["snapshot"] = [round(v, 2) for v in samples["snapshot"]]
    _harness.print_headline(summary, TARGETS)
    return summary


# -- where our time goes ------------------------------------------------------------------

# What ``--profile`` times inside our side, outermost call only: (owner, attribute, label).
_PARTS: tuple[tuple[Any, str, str], ...] = (
    (ServiceClient, "__init__", "new httpx client (one SSL context shared)"),
    (FilesystemClient, "list_files", "GET /files"),
    (FilesystemClient, "batch", "POST /batch"),
    (FilesystemClient, "restore", "POST /restore"),
    (FilesystemClient, "undo_batch", "POST /restore (undo by key)"),
    (GitClient, "create_snapshot", "POST /snapshot"),
    (distributed_saga.log, "open_saga_log", "saga log: open (the process's first publish)"),
    (SQLiteSagaLog, "_transact", "saga log: transactions (each a synced commit)"),
    (SQLiteSagaLog, "close", "saga log: close (when evicted; checkpoints the WAL)"),
)


def profile(bench: Bench, args: argparse.Namespace) -> None:
    """Print where each of our operations spends its time, part by part (means)."""
    operations: dict[str, Callable[[str, list[dict[str, str]]], None]] = {
        "save": bench.ours_save,
        "rollback": bench.ours_rollback,
        "publish": bench.ours_publish,
    }
    _harness.run_rounds(
        SIDES,
        round_player(bench, args),
        rounds=0,
        order=_harness.alternating_order,
        warmup_rounds=args.warmup,
    )
    repetitions = args.rounds
    print(f"our side, mean of {repetitions} runs of each operation (ms):")
    saved: list[str] = []
    for operation, do in operations.items():
        total = 0.0
        with _harness.timed_parts(_PARTS) as spent:
            for number in range(repetitions):
                files = wiki_files(number, args.files, args.size)
                if operation == "rollback":
                    project = saved[number]
                else:
                    project = bench.project("ours", f"profile-{operation}")
                    if operation == "save":
                        saved.append(project)
                total += 1000.0 * _harness.timed(do, project, files)
        print(f"\n{operation:<52} {total / repetitions:>8.1f}   calls/run")
        accounted = 0.0
        for label, (ms, calls) in sorted(spent.items(), key=lambda item: -item[1][0]):
            accounted += ms
            print(f"  {label:<50} {ms / repetitions:>8.1f}   {calls / repetitions:g}")
        print(f"  {'everything else':<50} {(total - accounted) / repetitions:>8.1f}")


def log_settings(url: str, path: Path) -> str:
    """The saga log's settings, read from a log opened from its URL."""
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


COMMAND = _harness.Command(
    __doc__,
    quick="2 rounds",
    rounds=_harness.Default(2, 30, "alternating rounds"),
    warmup=_harness.Default(0, 2, "untimed rounds first"),
    data="the services' data",
)
COMMAND.parser.add_argument("--files", type=int, default=45, help="pages per wiki (default 45)")
COMMAND.parser.add_argument("--size", type=int, default=4096, help="about this many bytes a page")
COMMAND.parser.add_argument(
    "--profile", action="store_true", help="time the parts of our side instead of comparing"
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = COMMAND.parse(argv)
    if args.files < 1 or args.size < 600:
        COMMAND.error("--files must be positive, --size >= 600")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def scenario(workdir: Path) -> dict[str, Any] | None:
        with ServiceStack(workdir / "stack") as stack:
            log_url = f"sqlite:///{workdir / 'sagas.db'}"
            bench = Bench(stack, log_url)
            try:
                if args.profile:
                    profile(bench, args)
                    return None
                samples = measure(bench, args)
            finally:
                bench.close()
            args.log_settings = log_settings(log_url, workdir / "sagas.db")
        sizes = [len(f["content"].encode()) for f in wiki_files(0, args.files, args.size)]
        summary = report(samples, args, sizes)
        summary["compensation"] = FILES_RESTORE
        return summary

    return _harness.run(args, "publish-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
