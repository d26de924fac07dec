"""A wiki generation through the real backend, end to end: seconds per stage, saga's share.

Run from the repository root with the project's interpreter::

    .venv/bin/python bench/generate.py              # the sample corpus and 1,000 documents
    .venv/bin/python bench/generate.py --quick      # the sample corpus and 100 documents
    .venv/bin/python bench/generate.py --documents 2000 --rounds 3

The stack is what ``wikisaga up`` runs, started here on free ports in a temporary data
directory: the filesystem, git, orchestrator and backend services as processes, with
their defaults — embedded Chroma, the SQLite saga log and the SQLite graph in the data
directory, pages from the orchestrator. Two corpora, each in a project of its own:

``sample``     the shipped sample corpus (``wikisaga/sample_corpus``: 23 Markdown
               documents on the Python packaging ecosystem);
``synthetic``  ``--documents`` made-up Markdown documents of 1 to 3 KB: the relation-rich
               statements of ``generate_pages.py`` (five subject areas) between paragraphs
               drawn from the 4,000-word vocabulary of ``ingest.py``; the same for one
               ``--seed``.

Each round ingests both corpora into fresh projects through ``POST /projects/{id}/
documents`` (timed apart: ``ingest``), then, per corpus, sends ``POST /generate_wiki`` and
polls ``GET /jobs/{id}`` until the job has succeeded (``total``: from the request to the
answer that says so). The job's own step records give the seconds of each stage:
``fetch_documents``, ``generate_pages``, ``extract_relations``, then the saga's
``stage_graph``, ``save_files``, ``create_snapshot``, ``make_graph_current`` and
``commit``. ``saga`` is the sum of those five; ``saga_share`` is ``saga / total`` for
the synthetic corpus. Figures are medians over the rounds.

The last line of standard output is one JSON object with ``seconds_<N>_docs`` (the
synthetic corpus's ``total``; the headline, target < 60 s on 2 cores for 1,000 documents)
and ``saga_share``; progress goes to standard error.
"""

from __future__ import annotations

import argparse
import random
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import _harness
import generate_pages
import ingest as ingest_bench

from wikisaga.auth import get_internal_headers
from wikisaga.cli.up import START_ORDER, orchestrator_available
from wikisaga.clients.backend import BackendClient
from wikisaga.config import Settings
from wikisaga.launcher import ServiceProcess

USER = "bench-user"
CORPORA = ("sample", "synthetic")
PIPELINE = ("fetch_documents", "generate_pages", "extract_relations")
SAGA = ("stage_graph", "save_files", "create_snapshot", "make_graph_current", "commit")
STAGES = (*PIPELINE, *SAGA)
TARGET_SECONDS = 60.0
JOB_TIMEOUT = 900.0
POLL_SECONDS = 0.1

# -- the corpora ------------------------------------------------------------------------


def sample_files() -> dict[str, str]:
    """The shipped sample corpus, path -> text."""
    root = resources.files("wikisaga") / "sample_corpus"
    files: dict[str, str] = {}

    def walk(folder: Any, prefix: str) -> None:
        for entry in sorted(folder.iterdir(), key=lambda e: e.name):
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.name.endswith((".md", ".rst", ".txt", ".html")):
                files[f"{prefix}{entry.name}"] = entry.read_text(encoding="utf-8")

    walk(root, "")
    return files


def synthetic_files(count: int, seed: int) -> dict[str, str]:
    """``count`` Markdown documents of 1 to 3 KB, path -> text (see the module)."""
    rng = random.Random(seed)
    words = ingest_bench._vocabulary(random.Random(seed + 1))
    areas = sorted(generate_pages._AREAS)
    files = {}
    for number in range(count):
        area = areas[number % len(areas)]
        names, nouns = generate_pages._AREAS[area][:4], generate_pages._AREAS[area][4:]
        size = rng.randint(1000, 3000)
        parts = [f"# {rng.choice(names)} {rng.choice(nouns)} notes {number}", ""]
        while sum(len(p) + 1 for p in parts) < size:
            parts += [f"## {rng.choice(nouns).title()} {rng.choice(words)}", ""]
            statements = rng.randint(2, 4)
            parts.append(
                " ".join(generate_pages._sentence(rng, names, nouns) for _ in range(statements))
            )
            parts += ["", ingest_bench._paragraph(rng, words), ""]
        files[f"{area}/notes-{number:04d}.md"] = "\n".join(parts)[: size + 200] + "\n"
    return files


# -- the stack --------------------------------------------------------------------------


@contextmanager
def stack(root: Path) -> Iterator[BackendClient]:
    """The services ``wikisaga up`` runs, with its defaults, on free ports; a client of
    the backend."""
    token = secrets.token_urlsafe(24)
    names = [n for n in START_ORDER if orchestrator_available() or n != "orchestrator"]
    services = {
        name: ServiceProcess(name, log_dir=root / "logs", startup_timeout=90.0) for name in names
    }
    env = {
        "WIKISAGA_DATA_DIR": str(root / "data"),
        "WIKISAGA_INTERNAL_TOKEN": token,
        "WIKISAGA_FILESYSTEM_SERVER_URL": services["filesystem"].url,
        "WIKISAGA_GIT_SERVER_URL": services["git"].url,
        "WIKISAGA_BACKEND_URL": services["backend"].url,
        "WIKISAGA_CHROMA_URL": "",
        "WIKISAGA_GRAPH_URL": "",
        "WIKISAGA_NEO4J_URI": "",
        "WIKISAGA_SAGA_LOG_URL": "",
        "WIKISAGA_PAGE_GENERATOR": "orchestrator" if "orchestrator" in services else "local",
    }
    if "orchestrator" in services:
        env["WIKISAGA_ORCHESTRATOR_URL"] = services["orchestrator"].url
    with ExitStack() as running:
        for name in names:
            services[name].env.update(env)
            print(f"starting {name}", file=sys.stderr, flush=True)
            running.enter_context(services[name])
        headers = get_internal_headers(settings=Settings(internal_token=token))
        client = running.enter_context(
            BackendClient(services["backend"].url, headers=headers, timeout=JOB_TIMEOUT)
        )
        yield client


# -- one round --------------------------------------------------------------------------


def _generate(client: BackendClient, project_id: str) -> dict[str, Any]:
    """Start a generation and wait for its job to succeed; its figures."""
    clock = time.monotonic()
    job_id = client.generate_wiki(project_id, user_id=USER)["job_id"]
    deadline = clock + JOB_TIMEOUT
    while True:
        job = client.get_job(job_id, user_id=USER)
        if job["status"] in ("succeeded", "failed"):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {job['status']} after {JOB_TIMEOUT:g} s")
        time.sleep(POLL_SECONDS)
    total = time.monotonic() - clock
    if job["status"] != "succeeded":
        raise RuntimeError(f"generation of {project_id} failed: {job.get('error')}")
    steps = job.get("steps") or {}
    seconds = {stage: float((steps.get(stage) or {}).get("seconds") or 0.0) for stage in STAGES}
    result = job.get("result") or {}
    return {
        "total": total,
        "stages": seconds,
        "saga": sum(seconds[stage] for stage in SAGA),
        "pages": int(result.get("files_created", 0)),
        "relations": int(result.get("relationships_extracted", 0)),
        "documents": int((steps.get("fetch_documents") or {}).get("documents", 0)),
    }


def play_round(
    client: BackendClient, corpora: dict[str, dict[str, str]], number: int
) -> dict[str, dict[str, Any]]:
    """Ingest each corpus into a fresh project (timed), then generate each wiki."""
    figures: dict[str, dict[str, Any]] = {}
    for name, files in corpora.items():
        project_id = f"bench-{name}-{number}"
        clock = time.monotonic()
        report = client.upload_documents(project_id, files, user_id=USER)
        ingest_seconds = time.monotonic() - clock
        stored = int((report.get("counts") or {}).get("added", len(files)))
        print(
            f"round {number}: ingested {stored} {name} documents in {ingest_seconds:.2f} s",
            file=sys.stderr,
            flush=True,
        )
        figures[name] = {"ingest": ingest_seconds, "project_id": project_id}
    for name in corpora:
        done = _generate(client, figures[name]["project_id"])
        figures[name].update(done)
        print(
            f"round {number}: generated {name}: {done['pages']} pages, {done['relations']} "
            f"relations in {done['total']:.2f} s (saga {done['saga']:.2f} s)",
            file=sys.stderr,
            flush=True,
        )
    return figures


# -- the report -------------------------------------------------------------------------


def _median(rounds: list[dict[str, dict[str, Any]]], corpus: str, key: str) -> float:
    return statistics.median(float(r[corpus][key]) for r in rounds)


def _median_stage(rounds: list[dict[str, dict[str, Any]]], corpus: str, stage: str) -> float:
    return statistics.median(float(r[corpus]["stages"][stage]) for r in rounds)


def scenario(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    corpora = {"sample": sample_files(), "synthetic": synthetic_files(args.documents, args.seed)}
    sizes = {
        name: sum(len(text.encode()) for text in files.values()) for name, files in corpora.items()
    }
    rounds = []
    with stack(workdir) as client:
        for number in range(args.warmup):
            play_round(client, corpora, _harness.WARMUP_ROUND + number)
        for number in range(args.rounds):
            rounds.append(play_round(client, corpora, number))

    header = ("stage", *(f"{name} s" for name in CORPORA))
    rows = [("ingest", *(f"{_median(rounds, c, 'ingest'):.3f}" for c in CORPORA))]
    for stage in STAGES:
        marker = "  saga: " if stage in SAGA else ""
        rows.append(
            (f"{marker}{stage}", *(f"{_median_stage(rounds, c, stage):.3f}" for c in CORPORA))
        )
    rows.append(("saga (sum)", *(f"{_median(rounds, c, 'saga'):.3f}" for c in CORPORA)))
    rows.append(
        ("total (request to succeeded)", *(f"{_median(rounds, c, 'total'):.3f}" for c in CORPORA))
    )
    rows.append(
        (
            "saga share",
            *(f"{_median(rounds, c, 'saga') / _median(rounds, c, 'total'):.1%}" for c in CORPORA),
        )
    )
    _harness.print_table(header, rows, "<>>")
    last = rounds[-1]
    for name in CORPORA:
        print(
            f"{name}: {last[name]['documents']} documents ({sizes[name] / 1e3:.0f} KB) -> "
            f"{last[name]['pages']} pages, {last[name]['relations']} relations"
        )

    documents = args.documents
    total = _median(rounds, "synthetic", "total")
    summary = _harness.summary("generate", args)
    summary.update(
        {
            "documents": documents,
            f"seconds_{documents}_docs": round(total, 3),
            "saga_share": round(_median(rounds, "synthetic", "saga") / total, 4),
            "ingest_seconds": round(_median(rounds, "synthetic", "ingest"), 3),
            "stage_seconds": {
                stage: round(_median_stage(rounds, "synthetic", stage), 3) for stage in STAGES
            },
            "pages": last["synthetic"]["pages"],
            "relations": last["synthetic"]["relations"],
            "sample": {
                "documents": last["sample"]["documents"],
                "seconds": round(_median(rounds, "sample", "total"), 3),
                "saga_share": round(
                    _median(rounds, "sample", "saga") / _median(rounds, "sample", "total"), 4
                ),
                "ingest_seconds": round(_median(rounds, "sample", "ingest"), 3),
                "stage_seconds": {
                    stage: round(_median_stage(rounds, "sample", stage), 3) for stage in STAGES
                },
                "pages": last["sample"]["pages"],
                "relations": last["sample"]["relations"],
            },
            "round_seconds": [round(r["synthetic"]["total"], 3) for r in rounds],
        }
    )
    _harness.print_headline(summary, {})
    met = "met" if total < TARGET_SECONDS or documents != 1000 else "NOT met"
    print(
        f"generation of {documents} documents through the backend = {total:.2f} s "
        f"(target < {TARGET_SECONDS:g} s on 2 cores: {met}); the saga's share "
        f"{summary['saga_share']:.1%}"
    )
    return summary


COMMAND = _harness.Command(
    __doc__ or "",
    quick="the sample corpus and 100 documents, one round",
    rounds=_harness.Default(1, 1, "rounds: both corpora ingested and generated"),
    warmup=_harness.Default(0, 0, "untimed rounds first"),
    data="the services' data and logs",
    seed=True,
)
COMMAND.parser.add_argument(
    "--documents", type=int, help="synthetic corpus size (default 1000; 100 with --quick)"
)


def main(argv: list[str] | None = None) -> int:
    args = COMMAND.parse(argv)
    if args.documents is None:
        args.documents = 100 if args.quick else 1000
    if not 1 <= args.documents <= 1000:
        COMMAND.error("--documents must be between 1 and 1000 (one upload holds 1000 files)")
    return _harness.run(args, "generate-bench-", lambda workdir: scenario(args, workdir))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
