"""git plumbing for the repository layer, one command at a time.

A snapshot's objects are not written here but in this process (``objects``), and so are
its refs read and changed (``refs``); git is run to read objects and refs, change refs
(a delete, and a snapshot in a repository the service did not lay out), and keep house.
Every command runs with a fixed identity and with global and system git configuration
switched off, so the result never depends on the machine's git setup. Ref changes here go
through :meth:`Git.update_refs`, one ``git update-ref --stdin`` transaction whose
``verify``/``update`` lines state old values (compare-and-swap).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from wikisaga.services.git._sync import fsync_all
from wikisaga.services.git.errors import GitCommandFailed, GitRepositoryError

__all__ = ["GIT_EMAIL", "GIT_IDENTITY", "GIT_NAME", "ZERO_OID", "Git", "RawObject", "commit_fields"]

GIT_NAME = "wikisaga"
GIT_EMAIL = "wikisaga@localhost"
GIT_IDENTITY = f"{GIT_NAME} <{GIT_EMAIL}>"
"""The author and committer of every snapshot commit."""
ZERO_OID = "0" * 40
"""The id that, as an old value in a ref transaction, means "the ref does not exist"."""


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        # Every ref git writes is synced in its lock file before it is renamed into
        # place (git leaves refs out of core.fsync by default), as ``refs`` does.
        GIT_CONFIG_COUNT="1",
        GIT_CONFIG_KEY_0="core.fsync",
        GIT_CONFIG_VALUE_0="reference",
        GIT_AUTHOR_NAME=GIT_NAME,
        GIT_AUTHOR_EMAIL=GIT_EMAIL,
        GIT_COMMITTER_NAME=GIT_NAME,
        GIT_COMMITTER_EMAIL=GIT_EMAIL,
        LC_ALL="C",
    )
    return env


def commit_fields(raw: bytes) -> tuple[datetime, str]:
    """The committer date and the message of a raw commit object."""
    header, _, message = raw.partition(b"\n\n")
    for line in header.split(b"\n"):
        if line.startswith(b"committer "):
            timestamp = int(line.rsplit(b" ", 2)[1])
            created = datetime.fromtimestamp(timestamp, tz=UTC)
            return created, message.decode("utf-8", errors="replace")
    raise GitRepositoryError("commit object without a committer line")


@dataclass(frozen=True, slots=True)
class RawObject:
    """One object as ``git cat-file --batch`` gives it."""

    oid: str
    kind: str
    body: bytes


class Git:
    """Runs git plumbing in bare repositories, each command bounded by ``timeout``.

    The ``git`` executable is looked up on ``PATH`` once, here, not at every command.
    """

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._env = _git_env()
        self.executable = shutil.which("git", path=self._env.get("PATH")) or "git"

    @property
    def env(self) -> dict[str, str]:
        """The environment git commands run with (a copy): no global or system config."""
        return dict(self._env)

    def run(
        self, git_dir: Path | None, *args: str, stdin: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``git [--git-dir=git_dir] args``; raise :class:`GitCommandFailed` when it
        fails (and ``check``) or runs past the timeout."""
        command = [self.executable]
        if git_dir is not None:
            command.append(f"--git-dir={git_dir}")
        command.extend(args)
        try:
            result = subprocess.run(
                command,
                input=stdin,
                capture_output=True,
                env=self._env,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise GitCommandFailed(args, f"no answer within {self.timeout:g}s") from exc
        except OSError as exc:
            raise GitCommandFailed(args, str(exc)) from exc
        if check and result.returncode != 0:
            detail = result.stderr.decode("utf-8", errors="replace").strip()
            raise GitCommandFailed(args, detail or f"exit status {result.returncode}")
        return result

    def resolve(self, git_dir: Path, ref: str) -> str | None:
        """The object id ``ref`` (any revision) names, ``None`` if it names nothing."""
        result = self.run(git_dir, "rev-parse", "--verify", "--quiet", ref, check=False)
        if result.returncode != 0:
            return None
        return result.stdout.decode().strip()

    def update_refs(self, git_dir: Path, commands: Iterable[str]) -> bool:
        """Apply ref commands as one atomic transaction; ``False`` if a CAS check failed.

        Once it is applied, the directories of the refs it changed are synced (and the
        repository's own, where ``packed-refs`` is rewritten when a ref is deleted), so
        that it survives a power loss: git syncs each ref's value but not its name.
        """
        commands = list(commands)
        script = "".join(f"{c}\n" for c in commands).encode()
        result = self.run(git_dir, "update-ref", "--stdin", stdin=script, check=False)
        if result.returncode != 0:
            return False
        changed = [c.split()[:2] for c in commands]
        fsync_all(
            [
                *((git_dir / name).parent for verb, name in changed if verb != "verify"),
                *(git_dir for verb, _ in changed if verb == "delete"),
            ]
        )
        return True

    def read_commits(self, git_dir: Path, names: Iterable[str]) -> dict[str, bytes | None]:
        """Raw commit objects by name (any revision), ``None`` for those that are absent."""
        wanted = list(dict.fromkeys(names))
        objects = self.read_objects(git_dir, [f"{n}^{{commit}}" for n in wanted])
        found: dict[str, bytes | None] = {}
        for name in wanted:
            obj = objects[f"{name}^{{commit}}"]
            found[name] = obj.body if obj is not None and obj.kind == "commit" else None
        return found

    def tree_paths(self, git_dir: Path, commit: str) -> tuple[str, ...]:
        """Every file path of ``commit``'s tree, sorted."""
        out = self.run(git_dir, "ls-tree", "-r", "-z", "--name-only", "--full-tree", commit)
        names = out.stdout.split(b"\0")
        return tuple(sorted(n.decode("utf-8", errors="replace") for n in names if n))

    def tag_points(self, git_dir: Path) -> dict[str, str]:
        """Every snapshot tag's commit, by snapshot id."""
        out = self.run(
            git_dir, "for-each-ref", "--format=%(refname:lstrip=2) %(objectname)", "refs/tags/"
        )
        points: dict[str, str] = {}
        for line in out.stdout.decode().splitlines():
            name, _, oid = line.partition(" ")
            points[name] = oid
        return points

    def read_objects(self, git_dir: Path, names: Iterable[str]) -> dict[str, RawObject | None]:
        """Objects by name (any revision), in one ``git cat-file --batch``: each one's id,
        type and raw body, ``None`` for names that name nothing."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        stdin = "".join(f"{n}\n" for n in wanted).encode()
        out = self.run(git_dir, "cat-file", "--batch", stdin=stdin).stdout
        found: dict[str, RawObject | None] = {}
        pos = 0
        for name in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split(b" ")
            pos = end + 1
            if len(header) != 3 or header[1] == b"missing":
                found[name] = None
                continue
            size = int(header[2])
            found[name] = RawObject(header[0].decode(), header[1].decode(), out[pos : pos + size])
            pos += size + 1
        return found

    def empty_tree(self, git_dir: Path) -> str:
        """The id of the empty tree, written to the repository if it is not there."""
        out = self.run(git_dir, "hash-object", "-w", "-t", "tree", "--stdin", stdin=b"")
        return out.stdout.decode().strip()
