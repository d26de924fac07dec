"""``wikisaga up`` as a real process: every service answers /health with the shared token,
SIGTERM stops all of them (exit 0, no child left), and a taken port starts nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from wikisaga.cli.up import OFFSETS, orchestrator_available

LINE = re.compile(r"^(\w+)\s+listening on (http://\S+)\s+\(pid (\d+), log ")


def free_base_port() -> int:
    """A base port whose four ports are all free a moment ago."""
    for _ in range(200):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + max(OFFSETS.values()) > 65535:
            continue
        try:
            sockets = []
            for offset in OFFSETS.values():
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
        return base
    raise AssertionError("no four consecutive free ports")


def start_up(data_dir: Path, base: int) -> subprocess.Popen[str]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WIKISAGA_")},
        "WIKISAGA_DATA_DIR": str(data_dir),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "wikisaga", "up", "--base-port", str(base)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is not running.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_up_runs_every_service_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    base = free_base_port()
    process = start_up(tmp_path / "data", base)
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if "services running" in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(150), "\n".join(lines)
        services = {m[1]: (m[2], int(m[3])) for m in map(LINE.match, lines) if m}
        expected = set(OFFSETS) if orchestrator_available() else set(OFFSETS) - {"orchestrator"}
        assert set(services) == expected, lines
        for name, (url, _pid) in services.items():
            assert url == f"http://127.0.0.1:{base + OFFSETS[name]}"
            assert httpx.get(f"{url}/health", timeout=5).status_code == 200
        exports = [line.strip() for line in lines if "export WIKISAGA_INTERNAL_TOKEN=" in line]
        assert len(exports) == 1
        token = exports[0].split("=", 1)[1]
        # The shared token is the one the backend checks.
        backend = services["backend"][0]
        denied = httpx.get(f"{backend}/jobs/job-1", headers={"X-User-ID": "u"}, timeout=5)
        assert denied.status_code == 401
        allowed = httpx.get(
            f"{backend}/jobs/job-1",
            headers={"X-User-ID": "u", "X-INTERNAL-TOKEN": token},
            timeout=5,
        )
        assert allowed.status_code == 404

        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, "\n".join(lines)
        reader.join(5)
        assert lines[-1] == "wikisaga up: every service stopped"
        deadline = time.monotonic() + 5
        while any(alive(pid) for _, pid in services.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [n for n, (_, pid) in services.items() if alive(pid)] == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(5)
        assert process.stdout is not None
        process.stdout.close()


def test_a_taken_port_is_refused_by_name_and_nothing_starts(tmp_path: Path) -> None:
    base = free_base_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", base + OFFSETS["filesystem"]))
        holder.listen()
        process = start_up(tmp_path / "data", base)
        out, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert f"port {base + 1} (filesystem) is taken" in out
    assert "listening on" not in out
    assert not (tmp_path / "data" / "logs").exists()


def processes_serving(data_dir: Path) -> list[int]:
    """Live processes started with ``WIKISAGA_DATA_DIR=data_dir``: every service ``up``
    starts, printed or not (Linux's ``/proc``)."""
    wanted = f"WIKISAGA_DATA_DIR={data_dir}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if wanted in environ.split(b"\0") and state != "Z":
            found.append(int(entry.name))
    return found


def test_ctrl_c_during_startup_leaves_nothing_behind(tmp_path: Path) -> None:
    base = free_base_port()
    data_dir = tmp_path / "data"
    process = start_up(data_dir, base)
    assert process.stdout is not None
    pids = []
    for line in process.stdout:
        match = LINE.match(line)
        if match:
            pids.append(int(match[3]))
            process.send_signal(signal.SIGINT)  # while the next service is starting
            break
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "wikisaga up: stopping" in out
    assert pids
    assert not any(alive(pid) for pid in pids)
    # The service that was starting when the signal came, whose pid was never printed.
    assert processes_serving(data_dir) == []


def test_a_service_that_dies_stops_the_others_and_exits_1(tmp_path: Path) -> None:
    base = free_base_port()
    process = start_up(tmp_path / "data", base)
    assert process.stdout is not None
    pids: dict[str, int] = {}
    for line in process.stdout:
        match = LINE.match(line)
        if match:
            pids[match[1]] = int(match[3])
        if "services running" in line:
            break
    os.kill(pids["git"], signal.SIGKILL)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 1, out
    assert "wikisaga up: git exited with status -9" in out
    assert not any(alive(pid) for pid in pids.values())
