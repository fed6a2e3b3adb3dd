"""A real Secret Service for the tests (a pytest plugin): D-Bus session bus + gnome-keyring.

`keychain` (session) starts `dbus-daemon --session --fork` and an unlocked
`gnome-keyring-daemon --components=secrets` whose keyrings live in a temp dir (never a real
user keyring), checks it with `secret-tool`, and stops both by PID at the end.
`keychain_env` (per test) points this process at it and empties our service's items;
`no_keychain` forces keyring's fail backend (the headless-Linux path). Both return the
environment a subprocess needs. Needs Debian's dbus, gnome-keyring and libsecret-tools.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SERVICE = "swebench-runner"
READY_WITHIN = 30.0  # seconds for the daemons to come up (a fixture bound, not a test limit)


@dataclass
class Keychain:
    address: str
    root: Path
    dbus_pid: int
    daemon: subprocess.Popen | None
    env: dict[str, str] = field(default_factory=dict)  # what a client process needs

    def secret_tool(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(["secret-tool", *args], input=input, capture_output=True, text=True,
                              env={**os.environ, **self.env})

    def lookup(self, account: str, service: str = SERVICE) -> str | None:
        """An item as keyring stores it (attributes service + username), read by libsecret."""
        out = self.secret_tool("lookup", "service", service, "username", account)
        return out.stdout if out.returncode == 0 else None

    def clear(self) -> None:
        self.secret_tool("clear", "service", SERVICE)


def _require(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        pytest.fail(f"keychain tests need {', '.join(missing)}: apt-get install dbus gnome-keyring libsecret-tools")


@pytest.fixture(scope="session")
def keychain() -> Keychain:
    _require("dbus-daemon", "gnome-keyring-daemon", "secret-tool")
    # Not under pytest's basetemp: a concurrent session's cleanup of old basetemps can delete
    # it under a running daemon (its login collection then vanishes).
    root = Path(tempfile.mkdtemp(prefix="swebench-keychain-"))
    dirs = {name: root / name for name in ("home", "data", "config", "runtime")}
    for d in dirs.values():
        d.mkdir(mode=0o700)
    private = {"HOME": str(dirs["home"]), "XDG_DATA_HOME": str(dirs["data"]),
               "XDG_CONFIG_HOME": str(dirs["config"]), "XDG_RUNTIME_DIR": str(dirs["runtime"])}
    # The bus gets the private dirs too: a client that asks for the Secret Service before our
    # daemon owns the name makes the bus activate one, and that one must not use the real HOME.
    out = subprocess.run(["dbus-daemon", "--session", "--fork", "--print-address=1", "--print-pid=1"],
                         capture_output=True, text=True, check=True, env={**os.environ, **private})
    address, pid = out.stdout.split()[:2]
    env = {"DBUS_SESSION_BUS_ADDRESS": address}
    daemon_env = {**os.environ, **env, **private}
    chain = Keychain(address=address, root=root, dbus_pid=int(pid), daemon=None, env=env)
    try:
        chain.daemon = _start_daemon(daemon_env, dirs["data"])
        problem = _wait_ready(chain)
        if problem is not None:
            pytest.fail(f"the Secret Service did not come up: {problem}")
        yield chain
    finally:
        if chain.daemon is not None:
            _stop_daemon(chain.daemon)
        try:
            os.kill(chain.dbus_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        shutil.rmtree(root, ignore_errors=True)


# An unlocked login collection, in gnome-keyring's plain (unencrypted) file format. Letting
# `--unlock` create it races: under load the daemon now and then never creates it.
LOGIN_KEYRING = "[keyring]\ndisplay-name=login\nctime=0\nmtime=0\nlock-on-idle=false\nlock-after=false\n"


def _start_daemon(env: dict[str, str], data: Path) -> subprocess.Popen:
    keyrings = data / "keyrings"
    keyrings.mkdir(mode=0o700, exist_ok=True)
    (keyrings / "login.keyring").write_text(LOGIN_KEYRING)
    (keyrings / "default").write_text("login")
    return subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--components=secrets"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=env)


def _stop_daemon(daemon: subprocess.Popen) -> None:
    daemon.terminate()
    try:
        daemon.wait(timeout=10)
    except subprocess.TimeoutExpired:
        daemon.kill()
        daemon.wait()


def _wait_ready(chain: Keychain) -> str | None:
    """Store and read back a probe item through libsecret until the daemon answers; the problem if not."""
    deadline = time.monotonic() + READY_WITHIN
    while True:
        if chain.daemon.poll() is not None:
            return f"gnome-keyring-daemon exited with {chain.daemon.returncode}"
        stored = chain.secret_tool("store", "--label=probe", "service", "swebench-probe", "username", "probe",
                                   input="ok")
        if stored.returncode == 0 and chain.secret_tool("lookup", "service", "swebench-probe",
                                                        "username", "probe").stdout == "ok" \
                and _default_collection_ready(chain):
            chain.secret_tool("clear", "service", "swebench-probe")
            return None
        if time.monotonic() > deadline:
            return stored.stderr.strip() or "the default collection is not usable"
        time.sleep(0.1)


def _default_collection_ready(chain: Keychain) -> bool:
    """keyring goes through the `default` alias, which names the login collection only once
    gnome-keyring has finished creating it; until then it fails with "Object does not exist"."""
    probe = ("import secretstorage\n"
             "bus = secretstorage.dbus_init()\n"
             "collection = secretstorage.get_default_collection(bus)\n"
             "collection.is_locked()\n"
             "list(collection.get_all_items())\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, env={**os.environ, **chain.env})
    return done.returncode == 0


def _reset_keyring() -> None:
    """keyring caches its backend choice; make it choose again from the current environment."""
    import keyring.backend
    import keyring.core

    import swebench_tasks.keys as keys

    vars(keyring.backend.get_all_keyring).pop("saved_result", None)  # viability is cached (@once)
    keyring.core.init_backend()
    keys._warned = False


@pytest.fixture
def keychain_env(keychain, monkeypatch) -> dict[str, str]:
    """This test talks to the session's Secret Service, which starts empty of our items."""
    keychain.clear()
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    for var, value in keychain.env.items():
        monkeypatch.setenv(var, value)
    _reset_keyring()
    yield dict(keychain.env)
    keychain.clear()
    monkeypatch.undo()
    _reset_keyring()


@pytest.fixture
def no_keychain(monkeypatch) -> dict[str, str]:
    """No usable keychain: keyring's fail backend, as on a headless Linux box."""
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", env["PYTHON_KEYRING_BACKEND"])
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    _reset_keyring()
    yield env
    monkeypatch.undo()
    _reset_keyring()
