"""Real processes for the shared desk's tests: a desk server started with
``python -m triage_queue desk`` and stopped with a signal, and small
helpers to wait on them.  Not a test module (no ``test_`` prefix)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

STAFF = """\
[[agent]]
id = "ana"
skills = {billing = 3}
capacity = 2

[[agent]]
id = "bo"
capacity = 1

[[agent]]
id = "cy"
skills = {billing = 1}
capacity = 2
"""

POLICY = """\
name = "test-desk"
composition = "lexicographic"

[[rules]]
kind = "emergency"
threshold = "critical"

[[rules]]
kind = "feedback_order"

[dispatcher]
offer_timeout = "2s"
"""


def write_files(folder: Path, *, staff: str = STAFF, policy: str = POLICY) -> tuple[Path, Path]:
    """A staff file and a policy file in ``folder``."""
    staff_path, policy_path = folder / "staff.toml", folder / "policy.toml"
    staff_path.write_text(staff)
    policy_path.write_text(policy)
    return staff_path, policy_path


def wait_until(check: Callable[[], bool], timeout: float, what: str, pause: float = 0.02) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(pause)


class DeskServer:
    """``python -m triage_queue desk`` as a child process, its stderr in a file."""

    def __init__(self, folder: Path, url: str, *, name: str = "desk", args: Sequence[str] = ()) -> None:
        self.folder = folder
        self.url = url
        self.name = name
        self.args = list(args)
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.err_path = folder / "desk-0.err"

    def start(self, timeout: float = 15.0) -> None:
        staff, policy = self.folder / "staff.toml", self.folder / "policy.toml"
        if not staff.exists():
            write_files(self.folder)
        self.runs += 1
        self.err_path = self.folder / f"desk-{self.name}-{self.runs}.err"
        env = dict(os.environ, PYTHONHASHSEED=str(self.runs * 7))
        with self.err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "triage_queue",
                    "desk",
                    "--log",
                    self.url,
                    "--name",
                    self.name,
                    "--staff",
                    str(staff),
                    "--policy",
                    str(policy),
                    *self.args,
                ],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )
        wait_until(
            lambda: "ready at" in self.stderr() or self.proc is None or self.proc.poll() is not None, timeout, "the desk server"
        )
        if self.proc.poll() is not None:
            raise AssertionError(f"the desk server exited with {self.proc.returncode}:\n{self.stderr()}")

    def stderr(self) -> str:
        return self.err_path.read_text(errors="replace") if self.err_path.exists() else ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Send ``sig`` and return the exit status."""
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


class Worker:
    """``tests/desk_worker.py`` as a child process, its stdout in a file."""

    SCRIPT = Path(__file__).with_name("desk_worker.py")

    def __init__(
        self, folder: Path, url: str, name: str, label: str, mode_args: Sequence[str], *, policy: Path | None = None
    ) -> None:
        self.folder = folder
        self.url = url
        self.name = name
        self.label = label
        self.mode_args = list(mode_args)
        self.policy = policy or folder / "policy.toml"
        self.proc: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self.out_path = folder / f"worker-{label}-0.out"

    def start(self, *extra: str, timeout: float = 15.0, options: Sequence[str] = ()) -> None:
        self.runs += 1
        self.out_path = self.folder / f"worker-{self.label}-{self.runs}.out"
        err_path = self.folder / f"worker-{self.label}-{self.runs}.err"
        env = dict(os.environ, PYTHONHASHSEED=str(self.runs * 13 + 1))
        with self.out_path.open("wb") as out, err_path.open("wb") as err:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    str(self.SCRIPT),
                    "--log",
                    self.url,
                    "--name",
                    self.name,
                    "--policy",
                    str(self.policy),
                    *options,
                    *self.mode_args,
                    *extra,
                ],
                stdout=out,
                stderr=err,
                env=env,
            )
        wait_until(lambda: bool(self.lines("ready")) or self.proc is None or self.proc.poll() is not None, timeout, "the worker")
        if self.proc.poll() is not None:
            raise AssertionError(f"the worker exited with {self.proc.returncode}:\n{err_path.read_text(errors='replace')}")

    def lines(self, kind: str, run: int | None = None) -> list[list[str]]:
        """The ``kind`` lines (split) of run ``run`` (default: the current one)."""
        path = self.out_path if run is None else self.folder / f"worker-{self.label}-{run}.out"
        if not path.exists():
            return []
        text = path.read_text(errors="replace")
        return [line.split() for line in text.splitlines()[:-1] if line.startswith(kind + " ")] + [
            line.split() for line in text.splitlines()[-1:] if text.endswith("\n") and line.startswith(kind + " ")
        ]

    def all_lines(self, kind: str) -> list[list[str]]:
        return [line for run in range(1, self.runs + 1) for line in self.lines(kind, run)]

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


class RedisServer:
    """A redis-server of the test's own (AOF on), restartable on the same folder and port."""

    def __init__(self, executable: str, folder: Path, fsync: str = "everysec") -> None:
        import socket

        self.executable = executable
        self.folder = folder
        self.fsync = fsync
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import redis

        self.proc = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--appendonly", "yes", "--appendfsync", self.fsync, "--save", "",
             "--logfile", str(self.folder / "redis.log"), "--daemonize", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(host="127.0.0.1", port=self.port)

        def up() -> bool:
            try:
                return bool(client.ping())
            except redis.exceptions.RedisError:
                return False

        try:
            wait_until(up, 10, "redis-server to answer")
        finally:
            client.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
