"""git plumbing for the repository layer, one command at a time.

Every command runs with a fixed identity and with global and system git configuration
switched off, so the result never depends on the machine's git setup. Ref changes go
through :meth:`Git.update_refs`, one ``git update-ref --stdin`` transaction whose
``verify``/``update`` lines state old values (compare-and-swap).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from wikisaga.services.git.errors import GitCommandFailed, GitRepositoryError

__all__ = ["GIT_EMAIL", "GIT_NAME", "ZERO_OID", "Git", "commit_fields"]

GIT_NAME = "wikisaga"
GIT_EMAIL = "wikisaga@localhost"
ZERO_OID = "0" * 40
"""The id that, as an old value in a ref transaction, means "the ref does not exist"."""


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME=GIT_NAME,
        GIT_AUTHOR_EMAIL=GIT_EMAIL,
        GIT_COMMITTER_NAME=GIT_NAME,
        GIT_COMMITTER_EMAIL=GIT_EMAIL,
        LC_ALL="C",
    )
    return env


def _quote_path(path: str) -> bytes:
    """C-style quote a path for ``git fast-import`` (always accepted, sometimes needed)."""
    out = bytearray(b'"')
    for byte in path.encode("utf-8"):
        if byte in (0x22, 0x5C):
            out += b"\\" + bytes([byte])
        elif byte < 0x20 or byte == 0x7F:
            out += b"\\%03o" % byte
        else:
            out.append(byte)
    out += b'"'
    return bytes(out)


def commit_fields(raw: bytes) -> tuple[datetime, str]:
    """The committer date and the message of a raw commit object."""
    header, _, message = raw.partition(b"\n\n")
    for line in header.split(b"\n"):
        if line.startswith(b"committer "):
            timestamp = int(line.rsplit(b" ", 2)[1])
            created = datetime.fromtimestamp(timestamp, tz=UTC)
            return created, message.decode("utf-8", errors="replace")
    raise GitRepositoryError("commit object without a committer line")


class Git:
    """Runs git plumbing in bare repositories, each command bounded by ``timeout``."""

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self._env = _git_env()

    @property
    def env(self) -> dict[str, str]:
        """The environment git commands run with (a copy): no global or system config."""
        return dict(self._env)

    def run(
        self, git_dir: Path | None, *args: str, stdin: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``git [--git-dir=git_dir] args``; raise :class:`GitCommandFailed` when it
        fails (and ``check``) or runs past the timeout."""
        command = ["git"]
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
        """Apply ref commands as one atomic transaction; ``False`` if a CAS check failed."""
        script = "".join(f"{c}\n" for c in commands).encode()
        result = self.run(git_dir, "update-ref", "--stdin", stdin=script, check=False)
        return result.returncode == 0

    def read_commits(self, git_dir: Path, names: Iterable[str]) -> dict[str, bytes | None]:
        """Raw commit objects by name (any revision), ``None`` for those that are absent."""
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        stdin = "".join(f"{n}^{{commit}}\n" for n in wanted).encode()
        out = self.run(git_dir, "cat-file", "--batch", stdin=stdin).stdout
        found: dict[str, bytes | None] = {}
        pos = 0
        for name in wanted:
            end = out.index(b"\n", pos)
            header = out[pos:end].split(b" ")
            pos = end + 1
            if len(header) != 3 or header[1] != b"commit":
                found[name] = None
                continue
            size = int(header[2])
            found[name] = out[pos : pos + size]
            pos += size + 1
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

    def write_commit(
        self,
        git_dir: Path,
        files: Mapping[str, bytes],
        message: str,
        parent: str | None,
        timestamp: int,
        pending: str,
    ) -> str:
        """Write a commit of exactly ``files`` in one ``git fast-import`` run; its id.

        fast-import can only leave a commit on a ref, so it goes to ``pending``, a ref the
        caller removes in the same transaction that publishes the commit.
        """
        body = message.encode("utf-8")
        identity = f"{GIT_NAME} <{GIT_EMAIL}> {timestamp} +0000".encode()
        chunks = [
            b"commit " + pending.encode() + b"\nmark :1\n",
            b"author " + identity + b"\ncommitter " + identity + b"\n",
            b"data %d\n" % len(body),
            body,
            b"\n",
        ]
        if parent is not None:
            chunks.append(b"from " + parent.encode() + b"\n")
        chunks.append(b"deleteall\n")
        for path in sorted(files):
            content = files[path]
            chunks += [b"M 100644 inline ", _quote_path(path), b"\n"]
            chunks += [b"data %d\n" % len(content), content, b"\n"]
        chunks.append(b"\nget-mark :1\ndone\n")
        out = self.run(git_dir, "fast-import", "--quiet", "--done", stdin=b"".join(chunks))
        return out.stdout.decode().strip().splitlines()[-1]

    def empty_tree(self, git_dir: Path) -> str:
        """The id of the empty tree, written to the repository if it is not there."""
        out = self.run(git_dir, "hash-object", "-w", "-t", "tree", "--stdin", stdin=b"")
        return out.stdout.decode().strip()
