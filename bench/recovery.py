"""Recovery at volume: 1,000 sagas whose processes were SIGKILLed, two recoverers racing.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/recovery.py                 # 3 rounds per log, two to three minutes
    .venv/bin/python bench/recovery.py --quick         # a few seconds, for a smoke test
    .venv/bin/python bench/recovery.py --url postgresql://user:pw@host/db
    .venv/bin/python bench/recovery.py --systems sqlite --sagas 2000 --starters 8

Systems (``--systems``; default both): ``sqlite`` (``sqlite:///...``, WAL,
``synchronous=FULL``) and ``pg`` (``postgresql://``, on the server ``--url`` names or a
throwaway cluster, a database or schema per round).

One round of a system, on a fresh log:

1. ``--starters`` processes (``_recovery_roles.py start``) start ``--sagas`` sagas between
   them, a thread each, with a lease of ``--lease`` seconds; each saga runs step
   ``reserve`` and is then inside step ``charge``'s action, both steps with the durable
   compensation ``bench.recovery.undo``. The log is checked: every saga in flight, its
   second step started.
2. Every starter is SIGKILLed, and must be seen to have died of it (return code -9).
3. Two recoverer processes (``_recovery_roles.py recover``) are started and open the log;
   once every lease has expired both are told to go at the same instant, and each runs
   ``recover_sagas`` passes (``--batch`` sagas each) until one claims nothing.
   ``recovery_seconds`` runs from "go" until both are done.
4. Then it is checked that every saga is ``rolled_back``, none is left in flight, each
   step was compensated once by the log's count, each saga was recovered by exactly one
   recoverer, and the ledger holds exactly one row per step: every compensation ran once.
   A failed check stops the benchmark with an error.

Rounds take the systems in a fresh random order (``--seed``). The last line of standard
output is one JSON object (progress goes to standard error):
``<system>_recovery_seconds_1000``, the median round's seconds scaled to 1,000 sagas
(measured as such with the default ``--sagas 1000``), target under 5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import _harness
import _postgres
from _recovery_roles import Ledger
from _saga_workers import split

from distributed_saga import IN_FLIGHT_STATES, SagaState, StepState
from distributed_saga.log import open_saga_log

ROLES = Path(__file__).resolve().parent / "_recovery_roles.py"
SYSTEMS = ("sqlite", "pg")
RECOVERERS = 2
RECOVERER_LEASE = 60.0
"""Long: a recoverer must finish what it claimed without the other taking it over."""
TARGET_SECONDS = 5.0


class CheckFailed(Exception):
    """Recovery left the log or the ledger in a state it must never leave them in."""


@dataclass
class Place:
    """Where one round keeps its saga log and its ledger."""

    log_url: str
    ledger_url: str
    schema: str | None = None
    files: list[Path] = field(default_factory=list)

    def role_args(self) -> list[str]:
        return ["--log", self.log_url, *(["--schema", self.schema] if self.schema else [])]

    def open_log(self) -> Any:
        return open_saga_log(self.log_url, **({"schema": self.schema} if self.schema else {}))


def new_place(system: str, number: int, workdir: Path, server: _postgres.Server | None) -> Place:
    if system == "sqlite":
        log, ledger = workdir / f"log-{number}.db", workdir / f"ledger-{number}.db"
        return Place(f"sqlite:///{log}?synchronous=FULL", f"sqlite:///{ledger}", files=[log])
    assert server is not None
    space = server.create_space(f"recovery_{number}")
    return Place(space.url, space.url, space.schema)


# -- one round --------------------------------------------------------------------------


def _role(role: str, place: Place, *extra: str, stderr: IO[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROLES), role, *place.role_args(), *extra],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def _expect(process: subprocess.Popen[str], word: str, errors: Path) -> None:
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if line != word:
        process.kill()
        tail = errors.read_text()[-3000:] if errors.exists() else ""
        raise CheckFailed(f"a {word!r} process said {line!r} (exit {process.poll()}):\n{tail}")


def kill_starters(place: Place, args: argparse.Namespace, workdir: Path, tag: str) -> None:
    """Start the starters, wait until every saga is mid-step, SIGKILL them, prove it."""
    errors = workdir / f"{tag}-starters.err"
    with errors.open("w") as stderr:
        starters = [
            _role(
                "start",
                place,
                "--prefix",
                f"{tag}-{k}",
                "--sagas",
                str(count),
                "--lease",
                str(args.lease),
                stderr=stderr,
            )
            for k, count in enumerate(split(args.sagas, args.starters))
        ]
        try:
            for starter in starters:
                _expect(starter, "ready", errors)
        finally:
            for starter in starters:
                starter.send_signal(signal.SIGKILL)
            for starter in starters:
                starter.wait()
                assert starter.stdout is not None
                starter.stdout.close()
                assert starter.stdin is not None
                starter.stdin.close()
    codes = [starter.returncode for starter in starters]
    if any(code != -signal.SIGKILL for code in codes):
        raise CheckFailed(f"a starter was not killed by SIGKILL: return codes {codes}")


def in_flight(place: Place, expected: int) -> float:
    """Check every saga is in flight inside its second step; the last lease's expiry."""
    log = place.open_log()
    try:
        sagas = log.list_sagas(states=IN_FLIGHT_STATES, limit=expected + 1)
    finally:
        log.close()
    if len(sagas) != expected:
        raise CheckFailed(f"{len(sagas)} sagas in flight after the kill, not {expected}")
    for saga in sagas:
        if len(saga.steps) != 2 or saga.steps[1].state is not StepState.STARTED:
            raise CheckFailed(f"saga {saga.saga_id} is not inside its second step: {saga}")
    return max(saga.lease_expires_at or 0.0 for saga in sagas)


def recover(
    place: Place, args: argparse.Namespace, workdir: Path, tag: str, expiry: float
) -> tuple[float, list[dict[str, Any]]]:
    """Two recoverers told to go once every lease expired; seconds until both are done."""
    errors = workdir / f"{tag}-recoverers.err"
    profile = () if not args.profile else ("--profile", str(profile_dir(workdir, tag)))
    extra = (
        *profile,
        "--ledger",
        place.ledger_url,
        "--batch",
        str(args.batch),
        "--threads",
        str(args.threads),
        "--lease",
        str(RECOVERER_LEASE),
    )
    with errors.open("w") as stderr:
        recoverers = [_role("recover", place, *extra, stderr=stderr) for _ in range(RECOVERERS)]
        try:
            for recoverer in recoverers:
                _expect(recoverer, "armed", errors)
            # The log's clock is this machine's (SQLite) or the server's; a margin for it.
            time.sleep(max(0.0, expiry - time.time() + 0.2))
            started = time.perf_counter()
            for recoverer in recoverers:
                assert recoverer.stdin is not None
                recoverer.stdin.write("go\n")
                recoverer.stdin.flush()
            results = []
            for recoverer in recoverers:
                assert recoverer.stdout is not None
                line = recoverer.stdout.readline()
                if not line:
                    raise CheckFailed(f"a recoverer died:\n{errors.read_text()[-3000:]}")
                results.append(json.loads(line))
            seconds = time.perf_counter() - started
        finally:
            for recoverer in recoverers:
                if recoverer.poll() is None and recoverer.stdin is not None:
                    recoverer.stdin.close()
                try:
                    recoverer.wait(30)
                except subprocess.TimeoutExpired:
                    recoverer.kill()
                    recoverer.wait()
    return seconds, results


def check(place: Place, expected: list[str], results: list[dict[str, Any]]) -> None:
    """Every saga rolled back by exactly one recoverer, every compensation run once."""
    claims = Counter(saga_id for result in results for saga_id in result["recovered"])
    if set(claims) != set(expected) or any(n != 1 for n in claims.values()):
        twice = sorted(s for s, n in claims.items() if n > 1)[:5]
        missing = sorted(set(expected) - set(claims))[:5]
        raise CheckFailed(f"recovered twice {twice}, never {missing} (first five)")
    log = place.open_log()
    try:
        sagas = log.list_sagas(limit=len(expected) + 1)
        left = log.list_sagas(states=IN_FLIGHT_STATES, limit=1)
    finally:
        log.close()
    if left or len(sagas) != len(expected):
        raise CheckFailed(f"{len(left)} sagas left in flight; {len(sagas)} in the log")
    for saga in sagas:
        undone = all(
            step.state is StepState.COMPENSATED and step.compensation_attempts == 1
            for step in saga.steps
        )
        if saga.state is not SagaState.ROLLED_BACK or len(saga.steps) != 2 or not undone:
            raise CheckFailed(f"saga {saga.saga_id} was not rolled back once: {saga}")
    ledger = Ledger(place.ledger_url, place.schema)
    try:
        runs = ledger.runs()
    finally:
        ledger.close()
    wanted = {(saga_id, step) for saga_id in expected for step in (0, 1)}
    if set(runs) != wanted or any(n != 1 for n in runs.values()):
        twice = sorted(key for key, n in runs.items() if n > 1)[:5]
        raise CheckFailed(f"ledger: {len(runs)} steps compensated of {len(wanted)}, twice: {twice}")


def play_round(
    system: str,
    number: int,
    args: argparse.Namespace,
    workdir: Path,
    server: _postgres.Server | None,
) -> dict[str, Any]:
    place = new_place(system, number, workdir, server)
    place.open_log().close()  # the schema, made once rather than raced for by the starters
    ledger = Ledger(place.ledger_url, place.schema)
    ledger.create()
    ledger.close()
    tag = f"{system}-{number}"
    began = time.perf_counter()
    kill_starters(place, args, workdir, tag)
    setup = time.perf_counter() - began
    expiry = in_flight(place, args.sagas)
    seconds, results = recover(place, args, workdir, tag, expiry)
    expected = [
        f"{tag}-{k}-{i}"
        for k, count in enumerate(split(args.sagas, args.starters))
        for i in range(count)
    ]
    check(place, expected, results)
    for path in place.files:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if args.profile:
        print_profile(tag, workdir, {"results": results}, args.sagas)
    return {
        "seconds": seconds,
        "setup_seconds": setup,
        "per_recoverer": [
            {"seconds": r["seconds"], "sagas": len(r["recovered"]), "passes": r["passes"]}
            for r in results
        ],
    }


# -- where the time goes -----------------------------------------------------------------


def profile_dir(workdir: Path, tag: str) -> Path:
    path = workdir / f"profile-{tag}"
    path.mkdir(exist_ok=True)
    return path


def print_profile(tag: str, workdir: Path, played: dict[str, Any], sagas: int) -> None:
    """Both recoverers' statements per saga and cProfile figures, added together."""
    statements: Counter[str] = Counter()
    for result in played["results"]:
        statements.update(result["statements"])
    print(f"{tag}: statements per saga recovered ({sum(statements.values()) / sagas:g} in all)")
    for text, n in statements.most_common(20):
        print(f"  {n / sagas:7.3f}  {text}")
    files = sorted(str(path) for path in profile_dir(workdir, tag).glob("*.prof"))
    stats = pstats.Stats(*files, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(30)


# -- the scenario -----------------------------------------------------------------------


def measure(
    args: argparse.Namespace, workdir: Path, server: _postgres.Server | None
) -> tuple[_harness.Samples, dict[str, list[dict[str, Any]]]]:
    rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in args.names}

    def play(number: int, order: list[str], samples: _harness.Samples) -> None:
        for system in order:
            played = play_round(system, number, args, workdir, server)
            samples.add(system, played["seconds"])
            if number < _harness.WARMUP_ROUND:
                rounds[system].append(played)

    def progress(samples: _harness.Samples) -> str:
        return ": " + ", ".join(f"{name} {samples.last(name):.2f} s" for name in args.names)

    samples = _harness.run_rounds(
        args.names,
        play,
        rounds=args.rounds,
        order=_harness.random_order(args.seed),
        warmup_rounds=args.warmup,
        progress=progress,
    )
    return samples, rounds


def report(
    samples: _harness.Samples,
    rounds: dict[str, list[dict[str, Any]]],
    args: argparse.Namespace,
    server: _postgres.Server | None,
) -> dict[str, Any]:
    scale = 1000.0 / args.sagas
    rows = []
    for name in args.names:
        seconds = samples.median(name)
        setup = sorted(r["setup_seconds"] for r in rounds[name])[len(rounds[name]) // 2]
        rows.append(
            (
                name,
                str(args.sagas),
                f"{seconds:.2f}",
                f"{seconds * scale:.2f}",
                f"{args.sagas / seconds:,.0f}",
                f"{setup:.1f}",
            )
        )
    print()
    header = ("log", "sagas", "recovery s", "per 1,000 s", "sagas/s recovered", "setup s")
    _harness.print_table(header, rows, "<>>>>>")
    print(
        f"(median of {args.rounds} rounds; {RECOVERERS} recoverers, {args.batch} sagas per "
        f"pass, {args.threads} at once; every round checked: all rolled back, each "
        "compensation run once)"
    )
    print()
    summary = _harness.summary("recovery", args)
    summary |= {
        "sagas": args.sagas,
        "starters": args.starters,
        "recoverers": RECOVERERS,
        "batch": args.batch,
        "threads": args.threads,
        "lease_seconds": args.lease,
        "checked": True,
        "server": None
        if server is None
        else {"throwaway_cluster": server.owned, **server.settings()},
        "targets": {f"{name}_recovery_seconds_1000": TARGET_SECONDS for name in args.names},
    }
    for name in args.names:
        summary[f"{name}_recovery_seconds"] = samples.median(name)
        summary[f"{name}_recovery_seconds_1000"] = samples.median(name) * scale
        summary[f"{name}_rounds"] = rounds[name]
    _harness.print_headline(summary, summary["targets"], at_most=set(summary["targets"]))
    return summary


COMMAND = _harness.Command(
    __doc__,
    quick="1 round of 40 sagas, 1 s leases",
    rounds=_harness.Default(1, 3, "rounds per log"),
    warmup=_harness.Default(0, 0, "untimed rounds first"),
    data="the SQLite logs, ledgers and the throwaway cluster",
    seed=True,
)
COMMAND.parser.add_argument("--url", help="a PostgreSQL server to use (default: a throwaway one)")
COMMAND.parser.add_argument(
    "--systems",
    default=",".join(SYSTEMS),
    help="comma-separated subset of sqlite,pg (default: both)",
)
COMMAND.parser.add_argument("--sagas", type=int, help="sagas in flight per round (default 1000)")
COMMAND.parser.add_argument(
    "--starters",
    type=int,
    default=4,
    help="processes that start the sagas and are killed (default 4)",
)
COMMAND.parser.add_argument(
    "--lease", type=float, help="the killed sagas' lease, seconds (default 5; --quick 1)"
)
COMMAND.parser.add_argument(
    "--profile",
    action="store_true",
    help="profile the recoverers (cProfile) and count their statements; print both",
)
COMMAND.parser.add_argument(
    "--batch", type=int, default=100, help="sagas a recoverer claims per pass (default 100)"
)
COMMAND.parser.add_argument(
    "--threads",
    type=int,
    default=1,
    help="sagas a recoverer compensates at once (recover_sagas' concurrency; default 1)",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args = COMMAND.parse(argv)
    args.sagas = args.sagas or (40 if args.quick else 1000)
    args.lease = args.lease or (1.0 if args.quick else 5.0)
    names = [name.strip() for name in args.systems.split(",") if name.strip()]
    unknown = sorted(set(names) - set(SYSTEMS))
    if unknown or not names:
        COMMAND.error(f"unknown systems {unknown}; choose from {','.join(SYSTEMS)}")
    if args.sagas < args.starters or args.starters < 1 or args.batch < 1 or args.threads < 1:
        COMMAND.error("--sagas must be at least --starters, which must be positive")
    args.names = list(dict.fromkeys(names))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def scenario(workdir: Path) -> dict[str, Any]:
        os.environ.pop("DISTRIBUTED_SAGA_CRASH_AT", None)  # the kill is ours, not a plan's
        if "pg" not in args.names:
            samples, rounds = measure(args, workdir, None)
            return report(samples, rounds, args, None)
        with _postgres.server(args.url, workdir) as server:
            samples, rounds = measure(args, workdir, server)
            return report(samples, rounds, args, server)

    return _harness.run(args, "recovery-bench-", scenario)


if __name__ == "__main__":
    sys.exit(main())
