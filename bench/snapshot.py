"""The git service's snapshot of a 45-page wiki, against git's own floor, side by side.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/snapshot.py               # about half a minute
    .venv/bin/python bench/snapshot.py --quick       # a few seconds, for a smoke test
    .venv/bin/python bench/snapshot.py --rounds 30 --files 45
    .venv/bin/python bench/snapshot.py --profile --rounds 20   # where the service's time goes

One filesystem service and one git service are started once, as real subprocesses, with
their data in a temporary directory (``wikisaga.testing.stack.ServiceStack``; requests go
to the services directly, not through the fault proxies). Each round, both ways, with the
same 45 Markdown pages of 1 to 5 KB (``_wiki_pages.wiki_page``, different every round):

``first``  a project's first snapshot. The service: ``POST /snapshot/{project}`` on a
           kept-alive client, the pages saved beforehand (untimed, one ``POST /batch``).
           The floor: a script running ``git init --bare``, one ``git fast-import`` of the
           pages as a commit on ``main`` and ``git tag``, in a repository of its own.
``next``   the project's second snapshot, a third of the pages rewritten: the service's
           ``POST /snapshot`` again; the floor's ``git fast-import`` (``from main``) and
           ``git tag``. This is the headline, ``snapshot_vs_fast_import`` = service median
           / floor median (target <= 1.5), and ``first_snapshot_vs_fast_import`` the same for
           ``first``.

The floor only writes: it checks no owner, reads no export over HTTP, takes no lock and
does no compare-and-swap, all of which the service does. After each round, outside the
timings, both sides' trees are checked to be the same tree (the same id) and the tags to
name the heads. The side going first alternates every round; two warm-up rounds are not
timed (``--warmup``). Figures are medians over the rounds, ``*_paired`` medians of the
per-round ratios (``_harness``). The last line of standard output is one JSON object.

``--profile`` compares nothing: it makes ``--rounds`` first and next snapshots in this
process, through the same ``ProjectRepositories`` and ``FilesystemSource`` the service
runs (owners and exports from the running filesystem service; the export checks the
owner, as in the service), with a timer around every git command, the owner lookup, the
export, the refs read and changed in process and the object writing, and prints the mean
of each part per snapshot and how many git commands ran.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import _harness
import httpx
from _wiki_pages import wiki_page
from pydantic import SecretStr

from wikisaga.clients import FilesystemClient
from wikisaga.config import Settings
from wikisaga.services.git import housekeeping, plumbing, refs, repository
from wikisaga.services.git.repository import ProjectRepositories
from wikisaga.services.git.source import FilesystemSource
from wikisaga.testing.stack import ServiceStack

USER = "bench-user"
MESSAGE = "Auto-generated wiki"
TARGETS = {"snapshot_vs_fast_import": 1.5, "first_snapshot_vs_fast_import": 1.5}
CASES = ("first", "next")
SIDES = ("service", "fast-import")
TIMEOUT = 60.0
_SECTIONS = ("architecture", "api", "guides", "operations", "reference")


def wiki(seed: int, count: int, smallest: int, largest: int) -> dict[str, str]:
    """``count`` Markdown pages of ``smallest`` to ``largest`` characters, by path."""
    rng = random.Random(seed)
    paths = [f"wiki/{_SECTIONS[i % len(_SECTIONS)]}/page-{i:03d}.md" for i in range(count)]
    pages = {}
    for path in paths:
        size = rng.randint(smallest, largest)
        pages[path] = wiki_page(rng, path.rsplit("/", 1)[-1][:-3], rng.sample(paths, 3), size)
    return pages


def rewrite_some(pages: dict[str, str], seed: int) -> dict[str, str]:
    """``pages`` with a third of them rewritten (the next generation of a wiki)."""
    rng = random.Random(seed)
    paths = sorted(pages)
    changed = dict(pages)
    for path in rng.sample(paths, len(paths) // 3):
        changed[path] = wiki_page(rng, path, rng.sample(paths, 3), len(pages[path]))
    return changed


# -- the floor: git's own commands, from a script ------------------------------------------


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")
    return env


@dataclass
class Floor:
    """``git fast-import`` + ``git tag`` into bare repositories under ``root``."""

    root: Path
    env: dict[str, str] = field(default_factory=_git_env)

    def git(self, *args: str, stdin: bytes | None = None) -> bytes:
        done = subprocess.run(
            ["git", *args], input=stdin, capture_output=True, env=self.env, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {args[0]} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout

    def snapshot(self, project: str, snapshot_id: str, pages: dict[str, str]) -> None:
        """One snapshot: ``git init`` if the repository is new, fast-import, tag."""
        repo = self.root / f"{project}.git"
        first = not repo.exists()
        if first:
            self.git("init", "--quiet", "--bare", "--initial-branch=main", str(repo))
        who = f"wikisaga <wikisaga@localhost> {int(time.time())} +0000".encode()
        message = MESSAGE.encode()
        chunks = [
            b"commit refs/heads/main\nauthor %s\ncommitter %s\n" % (who, who),
            b"data %d\n%s\n" % (len(message), message),
        ]
        if not first:
            chunks.append(b"from refs/heads/main^0\n")
        chunks.append(b"deleteall\n")
        for path in sorted(pages):
            data = pages[path].encode()
            chunks.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(data), data))
        chunks.append(b"\ndone\n")
        git_dir = f"--git-dir={repo}"
        self.git(git_dir, "fast-import", "--quiet", "--done", stdin=b"".join(chunks))
        self.git(git_dir, "tag", snapshot_id, "main")

    def tree(self, project: str, snapshot_id: str) -> str:
        repo = f"--git-dir={self.root / f'{project}.git'}"
        return self.git(repo, "rev-parse", f"refs/tags/{snapshot_id}^{{tree}}").decode().strip()


# -- the service --------------------------------------------------------------------------


@dataclass
class Bench:
    """Both sides, against one running stack."""

    stack: ServiceStack
    floor: Floor
    _counter: int = 0

    def __post_init__(self) -> None:
        self.files = FilesystemClient(
            self.stack.filesystem.url, headers=self.stack.headers, timeout=TIMEOUT
        )
        self.git = httpx.Client(
            base_url=self.stack.git.url,
            headers={**self.stack.headers, "X-User-ID": USER},
            timeout=TIMEOUT,
        )

    def close(self) -> None:
        self.files.close()
        self.git.close()

    def project(self, side: str) -> str:
        self._counter += 1
        return f"bench-{side}-{self._counter:05d}"

    def save(self, project: str, pages: dict[str, str]) -> None:
        """Put the pages in the filesystem service (untimed; the project becomes ours)."""
        self.files.batch(project, save=sorted(pages.items()), user_id=USER)

    def snapshot(self, project: str, snapshot_id: str) -> None:
        response = self.git.post(
            f"/snapshot/{project}",
            json={"user_id": USER, "message": MESSAGE, "snapshot_id": snapshot_id},
        )
        if response.status_code != 201:
            raise RuntimeError(f"snapshot of {project}: {response.status_code} {response.text}")

    def tree(self, project: str, snapshot_id: str) -> str:
        repo = f"--git-dir={self.stack.repository(project)}"
        return self.floor.git(repo, "rev-parse", f"refs/tags/{snapshot_id}^{{tree}}").decode()


def round_player(
    bench: Bench, args: argparse.Namespace
) -> Callable[[int, list[str], _harness.Samples], None]:
    """Plays one round: the first and the next snapshot, both ways; samples are ms by
    ``"{case} {side}"``."""

    def play(number: int, sides: list[str], samples: _harness.Samples) -> None:
        first = wiki(number, args.files, 1000, 5000)
        generations = {"first": first, "next": rewrite_some(first, number)}
        projects = {side: bench.project("s" if side == "service" else "f") for side in sides}
        for case in CASES:
            pages = generations[case]
            snapshot_id = f"snap-{case}"
            bench.save(projects["service"], pages)
            for side in sides:
                project = projects[side]
                if side == "service":
                    ms = 1000.0 * _harness.timed(bench.snapshot, project, snapshot_id)
                else:
                    ms = 1000.0 * _harness.timed(bench.floor.snapshot, project, snapshot_id, pages)
                samples.add(f"{case} {side}", ms)
            ours = bench.tree(projects["service"], snapshot_id).strip()
            theirs = bench.floor.tree(projects["fast-import"], snapshot_id)
            if ours != theirs:
                raise RuntimeError(f"round {number} {case}: tree {ours} != floor's {theirs}")

    return play


# -- reporting ----------------------------------------------------------------------------

_WHAT = {
    "first": ("POST /snapshot, new project", "git init + fast-import + tag"),
    "next": ("POST /snapshot, 1/3 of pages new", "fast-import + tag"),
}
_RATIO = {"first": "first_snapshot_vs_fast_import", "next": "snapshot_vs_fast_import"}


def report(samples: _harness.Samples, args: argparse.Namespace) -> dict[str, Any]:
    """Print the table and the headline ratios; returns the JSON summary."""
    rows = [
        (
            case,
            f"{samples.median(f'{case} service'):.1f}",
            f"{samples.median(f'{case} fast-import'):.1f}",
            f"{samples.ratio(f'{case} service', f'{case} fast-import'):.2f}",
            *_WHAT[case],
        )
        for case in CASES
    ]
    print()
    header = ("snapshot", "service ms", "floor ms", "service/floor", "service", "floor")
    _harness.print_table(header, rows, "<>>><<")
    print()
    print(
        f"{args.files} Markdown pages of 1-5 KB; median of {args.rounds} rounds, the side "
        "going first alternating every round. The service also checks the owner, reads the "
        "pages from the filesystem service over HTTP and publishes with compare-and-swap."
    )
    summary = _harness.summary("snapshot", args)
    summary |= {"warmup_rounds": args.warmup, "files": args.files, "targets": TARGETS}
    for case in CASES:
        summary[_RATIO[case]] = samples.ratio(f"{case} service", f"{case} fast-import")
        summary[f"{_RATIO[case]}_paired"] = samples.paired(f"{case} service", f"{case} fast-import")
        for side in SIDES:
            summary[f"{case}_{side.replace('-', '_')}_ms"] = samples.median(f"{case} {side}")
    summary["round_ms"] = {
        case: {side: [round(v, 2) for v in samples[f"{case} {side}"]] for side in SIDES}
        for case in CASES
    }
    _harness.print_headline(summary, TARGETS, at_most=TARGETS)
    return summary


# -- where the service's time goes ----------------------------------------------------------


@contextmanager
def git_commands() -> Iterator[dict[str, list[float]]]:
    """Time every git command the repository layer runs, by subcommand."""
    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    original = plumbing.Git.run

    def run(self: plumbing.Git, git_dir: Path | None, *args: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(self, git_dir, *args, **kwargs)
        finally:
            entry = spent[f"git {args[0]}"]
            entry[0] += (time.perf_counter() - started) * 1000.0
            entry[1] += 1

    plumbing.Git.run = run  # type: ignore[method-assign]
    try:
        yield spent
    finally:
        plumbing.Git.run = original  # type: ignore[method-assign]


_PARTS: tuple[tuple[Any, str, str], ...] = (
    (FilesystemSource, "owner_of", "owner lookup (GET /projects/{id})"),
    (FilesystemSource, "export_sync", "export (GET /export/{id})"),
    (refs, "read", "refs read (in process)"),
    (refs, "update", "ref transaction (in process)"),
    (repository, "snapshot_tree", "blobs and trees made (SHA-1)"),
    (repository, "write_pack", "pack + index written and synced"),
    (repository, "write_loose", "loose commit written (lost a race)"),
    (housekeeping, "consolidate", "packs merged (repack)"),
)


def profile(bench: Bench, args: argparse.Namespace, root: Path) -> None:
    """Print where one snapshot's time goes, part by part, in this process."""
    settings = Settings(
        filesystem_server_url=bench.stack.filesystem.url,
        internal_token=SecretStr(bench.stack.token),
        filesystem_timeout=TIMEOUT,
    )
    source = FilesystemSource(settings)

    def owner_of(project: str) -> str | None:
        return source.owner_of(project)  # looked up at every call, so the timer sees it

    repositories = ProjectRepositories(root, owners=owner_of)
    totals: dict[str, float] = defaultdict(float)
    parts: dict[str, dict[str, list[float]]] = {}
    try:
        for case in CASES:
            with _harness.timed_parts(_PARTS) as spent, git_commands() as commands:
                for number in range(args.rounds):
                    project = f"profile-{number:04d}"
                    pages = wiki(number, args.files, 1000, 5000)
                    if case == "first":
                        bench.save(project, pages)
                    else:
                        bench.save(project, rewrite_some(pages, number))
                    export = partial(source.export_sync, project, USER)
                    totals[case] += 1000.0 * _harness.timed(
                        partial(repositories.create_snapshot, export_checks_owner=True),
                        project,
                        USER,
                        f"p-{case}",
                        MESSAGE,
                        export,
                    )
            parts[case] = {**spent, **commands}
    finally:
        source.close()
    rounds = args.rounds
    print(f"the service's snapshot, in this process: mean of {rounds} runs (ms)")
    for case in CASES:
        print(f"\n{case:<44} {totals[case] / rounds:>8.2f}   calls/run")
        accounted = 0.0
        commands = 0.0
        for label, (ms, calls) in sorted(parts[case].items(), key=lambda item: -item[1][0]):
            accounted += ms
            if label.startswith("git "):
                commands += calls
            print(f"  {label:<42} {ms / rounds:>8.2f}   {calls / rounds:g}")
        print(f"  {'everything else':<42} {(totals[case] - accounted) / rounds:>8.2f}")
        print(f"  git commands per snapshot: {commands / rounds:g}")


COMMAND = _harness.Command(
    __doc__,
    quick="2 rounds",
    rounds=_harness.Default(2, 20, "alternating rounds"),
    warmup=_harness.Default(0, 2, "untimed rounds first"),
    data="the services' data and the floor's repositories",
)
COMMAND.parser.add_argument("--files", type=int, default=45, help="pages (default 45)")
COMMAND.parser.add_argument(
    "--profile", action="store_true", help="time the parts of the service's snapshot instead"
)


def main(argv: list[str] | None = None) -> int:
    args = COMMAND.parse(argv)
    if args.files < 3:
        COMMAND.error("--files must be at least 3")

    def scenario(workdir: Path) -> dict[str, Any] | None:
        with ServiceStack(workdir / "stack") as stack:
            bench = Bench(stack, Floor(workdir / "floor"))
            try:
                if args.profile:
                    profile(bench, args, workdir / "profile")
                    return None
                samples = _harness.run_rounds(
                    SIDES,
                    round_player(bench, args),
                    rounds=args.rounds,
                    order=_harness.alternating_order,
                    warmup_rounds=args.warmup,
                    progress=lambda s: "".join(
                        f", {case} {s.last(f'{case} service'):.1f}/"
                        f"{s.last(f'{case} fast-import'):.1f} ms"
                        for case in CASES
                    ),
                )
            finally:
                bench.close()
        return report(samples, args)

    return _harness.run(args, "snapshot-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
