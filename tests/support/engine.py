"""The real Docker parts for tests (a pytest plugin): a loopback registry, a private dockerd,
and small but real SWE-bench instances whose images are served through that registry.

Session fixtures:
- `registry`: `docker-registry` on 127.0.0.1:5000. Sessions on one machine share it; the last
  session out stops it, and one this suite did not start is never stopped. Its storage lives
  in the test cache (~/.cache/swebench-tasks-tests/registry), so it keeps the built images.
- `docker_engine`: a dockerd of this session's own (own data root, socket and containerd
  namespace), with the registry as its Docker Hub mirror; `DOCKER_HOST` points at it.
- `instance_dataset`: four instances in the harness 5.x row schema. Three images are in the
  registry under their Docker Hub names only (a harness pull goes through the mirror); the
  fourth, `acme__calc-3`, only under its Epoch AI fallback name. The images are built (from a
  cached mmdebstrap root) only when the registry does not already hold them from the current
  recipe. None is left in the engine, so the first use of each image is a real pull. A test
  that pulls must remove what it pulled (`docker_engine.remove_images`) so that the next test
  starts from the same state.
"""

from __future__ import annotations

import contextlib
import difflib
import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator, NoReturn

import docker
import pytest

REGISTRY_ADDRESS = "127.0.0.1:5000"
REGISTRY_STATE = Path(tempfile.gettempdir()) / "swebench-tasks-registry"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "swebench-tasks-tests"
FALLBACK_NAMESPACE = f"{REGISTRY_ADDRESS}/epoch"

DEBIAN_SUITE = "bookworm"
BASE_PACKAGES = ("python3", "python3-pytest", "git", "patch", "bash", "tini", "ca-certificates")
# Left out of the image: nothing in it reads them, and a smaller layer imports and pushes faster.
DPKG_EXCLUDES = ("/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*")
IMAGE_CHANGES = (
    'ENTRYPOINT ["/usr/bin/tini", "--"]',  # PID 1 that forwards SIGTERM: `docker stop` is instant
    'CMD ["/bin/bash"]',
    "WORKDIR /testbed",
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "ENV PYTHONDONTWRITEBYTECODE=1",
)
# Fixed identity and dates make every base commit hash the same in every session.
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Acme Dev",
    "GIT_AUTHOR_EMAIL": "dev@acme.test",
    "GIT_AUTHOR_DATE": "2024-05-01T12:00:00Z",
    "GIT_COMMITTER_NAME": "Acme Dev",
    "GIT_COMMITTER_EMAIL": "dev@acme.test",
    "GIT_COMMITTER_DATE": "2024-05-01T12:00:00Z",
}
HEREDOC = "EOF_114329324912"  # the delimiter the SWE-bench datasets use in eval scripts
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
# Set on each published image, so that a later session can trust it instead of rebuilding.
RECIPE_LABEL = "org.swebench-tasks.test-recipe"
COMMIT_LABEL = "org.swebench-tasks.test-base-commit"


def _unavailable(reason: str) -> NoReturn:
    """Missing host tools fail the run in CI (which installs them) and skip it elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def _require(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        _unavailable(f"not on PATH: {', '.join(missing)} (apt-get install docker.io docker-registry mmdebstrap)")


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock shared by every pytest session on this machine."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _running(pid: int) -> bool:
    """True while pid is a live process (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _stop(pid: int, grace: float) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; reaps the process if it is our child."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _running(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _unmount_under(root: Path) -> None:
    """Unmount whatever a stopped dockerd left mounted below root (its netns/default, layers)."""
    prefix = f"{root}/"
    points = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(prefix)
    ]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False, capture_output=True)


# ---------------------------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class Registry:
    """The loopback registry: the engine's Docker Hub mirror and the fallback image registry.
    Repositories are paths in it, without the address (`swebench/sweb.eval...`)."""

    address: str = REGISTRY_ADDRESS

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def _get(self, path: str, method: str = "GET") -> tuple[dict[str, str], bytes] | None:
        """Headers and body of a registry API call; None for a 404."""
        request = urllib.request.Request(f"{self.url}/v2/{path}", method=method, headers={"Accept": MANIFEST_V2})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def has(self, repository: str, tag: str = "latest") -> bool:
        return self._get(f"{repository}/manifests/{tag}", method="HEAD") is not None

    def labels(self, repository: str, tag: str = "latest") -> dict[str, str] | None:
        """The image's labels, or None if the registry does not have it."""
        manifest = self._get(f"{repository}/manifests/{tag}")
        if manifest is None:
            return None
        config = self._get(f"{repository}/blobs/{json.loads(manifest[1])['config']['digest']}")
        return None if config is None else json.loads(config[1])["config"].get("Labels") or {}

    def delete(self, repository: str, tag: str = "latest") -> None:
        """Remove repository:tag (absent is fine), e.g. to make a name missing for a test."""
        head = self._get(f"{repository}/manifests/{tag}", method="HEAD")
        if head is not None:
            digest = {k.lower(): v for k, v in head[0].items()}["docker-content-digest"]
            self._get(f"{repository}/manifests/{digest}", method="DELETE")


def _registry_answers() -> bool:
    try:
        with urllib.request.urlopen(f"http://{REGISTRY_ADDRESS}/v2/", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _start_registry(state: Path) -> None:
    """Start the registry, detached from this session so that it can outlive it while another
    session still uses it. Its storage is the on-disk cache of the instance images."""
    data = CACHE_DIR / "registry"
    config = state / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
        f"storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {REGISTRY_ADDRESS}\n"
    )
    log = state / "registry.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    (state / "pid").write_text(str(process.pid))
    deadline = time.monotonic() + 30
    while not _registry_answers():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"docker-registry did not start on {REGISTRY_ADDRESS}:\n{_tail(log)}")
        time.sleep(0.1)


def _stop_registry(state: Path) -> None:
    """Stop the registry only if this suite started it (its pid runs our config)."""
    pid_file = state / "pid"
    if not pid_file.exists():
        return
    pid = int(pid_file.read_text())
    with contextlib.suppress(OSError):
        if str(state / "config.yml").encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            _stop(pid, grace=10)
    pid_file.unlink()


@pytest.fixture(scope="session")
def registry() -> Iterator[Registry]:
    """The shared loopback registry; started here unless something already answers."""
    users = REGISTRY_STATE / "users"
    me = users / str(os.getpid())

    def prune() -> None:
        for user in users.iterdir():
            if not _running(int(user.name)):
                user.unlink(missing_ok=True)

    try:
        with _locked(REGISTRY_STATE / "lock"):
            users.mkdir(parents=True, exist_ok=True)
            prune()
            me.touch()
            if not _registry_answers():
                _require("docker-registry")
                _start_registry(REGISTRY_STATE)
        yield Registry()
    finally:
        with _locked(REGISTRY_STATE / "lock"):
            me.unlink(missing_ok=True)
            prune()
            if not any(users.iterdir()):
                _stop_registry(REGISTRY_STATE)


# ---------------------------------------------------------------------------------------------
# engine


@dataclass(frozen=True)
class DockerEngine:
    """A running dockerd of this session's own."""

    host: str  # the DOCKER_HOST value, unix://...
    registry: str  # host:port of the loopback registry (also its Docker Hub mirror)
    root: Path
    pid: int
    storage_driver: str

    @property
    def log(self) -> Path:
        return self.root / "dockerd.log"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=600)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the `docker` command line (as the harness does) against this engine."""
        env = {**os.environ, "DOCKER_HOST": self.host}
        return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, check=check)

    @cached_property
    def arch(self) -> str:
        """The engine's architecture as image names spell it (x86_64, arm64)."""
        machine = self.client().info()["Architecture"]
        return {"aarch64": "arm64", "amd64": "x86_64"}.get(machine, machine)

    def has_image(self, name: str) -> bool:
        try:
            self.client().images.get(name)
        except docker.errors.ImageNotFound:
            return False
        return True

    def remove_images(self, *names: str) -> None:
        """Untag names (absent ones are fine), so that the next use is a real pull again."""
        client = self.client()
        for name in names:
            with contextlib.suppress(docker.errors.ImageNotFound):
                client.images.remove(name, force=True)


def _short_tmp() -> str:
    """A temp dir short enough for dockerd's and containerd's unix sockets (108 bytes)."""
    tmp = tempfile.gettempdir()
    return tmp if len(tmp) <= 40 else "/tmp"


def _start_dockerd(root: Path, registry: Registry) -> tuple[subprocess.Popen[bytes], str]:
    """Start dockerd; overlay2 where the filesystem allows it (fast), else vfs."""
    config = root / "daemon.json"
    config.write_text("{}")  # not /etc/docker/daemon.json: its flags would clash with ours
    namespace = "swe-" + hashlib.sha256(str(root).encode()).hexdigest()[:12]  # [a-z0-9-] only
    data = root / "data"
    data.mkdir()
    # Layers on tmpfs where we may mount one: deleting an engine's layers from disk costs
    # about 10 s (unlinks are slow on CI disks), unmounting a tmpfs nothing.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0710", "swebench-tests", str(data)], capture_output=True)
    for driver in ("overlay2", "vfs"):
        shutil.rmtree(data, ignore_errors=True)  # empties it (a mount point itself stays)
        command = [
            "dockerd",
            f"--config-file={config}",
            f"--storage-driver={driver}",
            "--iptables=false",
            "--ip-forward=false",
            "--bridge=none",
            f"--data-root={data}",
            f"--exec-root={root / 'x'}",
            f"--pidfile={root / 'dockerd.pid'}",
            f"--host=unix://{root / 'd.sock'}",
            f"--containerd-namespace={namespace}",
            f"--containerd-plugins-namespace={namespace}-plugins",
            f"--registry-mirror={registry.url}",
        ]
        with (root / "dockerd.log").open("a") as out:
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(docker.errors.DockerException, OSError):
                docker.DockerClient(base_url=f"unix://{root / 'd.sock'}", timeout=5).ping()
                return process, driver
            time.sleep(0.1)
        _stop(process.pid, grace=10)
        _unmount_under(root)
    raise RuntimeError(f"dockerd did not start:\n{_tail(root / 'dockerd.log')}")


@pytest.fixture(scope="session")
def docker_engine(registry: Registry) -> Iterator[DockerEngine]:
    """This session's dockerd; DOCKER_HOST points at it until the session ends."""
    _require("dockerd", "docker")
    if os.geteuid() != 0:
        _unavailable("the Docker test engine runs its own dockerd, which needs root")
    root = Path(tempfile.mkdtemp(prefix="swe-", dir=_short_tmp()))
    process: subprocess.Popen[bytes] | None = None
    try:
        process, driver = _start_dockerd(root, registry)
        engine = DockerEngine(
            host=f"unix://{root / 'd.sock'}",
            registry=registry.address,
            root=root,
            pid=process.pid,
            storage_driver=driver,
        )
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DOCKER_HOST", engine.host)
            for variable in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"):
                patch.delenv(variable, raising=False)
            yield engine
    finally:
        if process is not None:
            _stop(process.pid, grace=60)
        _unmount_under(root)
        shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# base image


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The archive URI this host's apt uses for a release suite (not -updates, not -security),
    so that mmdebstrap uses a mirror known to be reachable from here."""
    entries: list[tuple[list[str], list[str], list[str]]] = []  # (types, uris, suites)
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split("#", 1)[0].split()
            if words[1:2] and words[1].startswith("["):  # drop "[arch=amd64 signed-by=...]"
                words = [words[0], *words[next(i for i, w in enumerate(words) if w.endswith("]")) + 1 :]]
            if len(words) >= 3:
                entries.append(([words[0]], [words[1]], [words[2]]))
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ", "\t")):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.strip()
            if fields.get("enabled", "yes").lower() != "no":
                entries.append(
                    (fields.get("types", "").split(), fields.get("uris", "").split(), fields.get("suites", "").split())
                )
    for types, uris, suites in entries:
        if "deb" in types and any("-" not in suite and "/" not in suite for suite in suites):
            for uri in uris:
                if uri.startswith(("http://", "https://")):
                    return uri
    raise RuntimeError(f"no Debian release suite in the apt sources under {apt_dir}")


def _mmdebstrap() -> tuple[list[str], Path]:
    """The mmdebstrap command without its output argument, and the cache path it is for
    (named after the command, so a changed recipe makes a new root)."""
    mirror = debian_mirror()
    options = [
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        *(f"--dpkgopt=path-exclude={pattern}" for pattern in DPKG_EXCLUDES),
    ]
    key = hashlib.sha256(json.dumps([options, DEBIAN_SUITE, mirror]).encode()).hexdigest()[:12]
    return ["mmdebstrap", *options, DEBIAN_SUITE, "<output>", mirror], CACHE_DIR / f"debian-{DEBIAN_SUITE}-{key}.tar"


def base_tarball() -> Path:
    """A minbase Debian root with what the harness and the eval scripts run, made once and
    cached on disk (about 40 s) from the mirror this host's apt uses."""
    command, tarball = _mmdebstrap()
    with _locked(CACHE_DIR / "lock"):  # a second session waits instead of building it again
        if not tarball.exists():
            _require("mmdebstrap")
            partial = tarball.with_suffix(f".{os.getpid()}.partial")
            command[command.index("<output>")] = f"{partial}.tar"  # mmdebstrap picks the format by suffix
            result = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if result.returncode != 0:
                Path(f"{partial}.tar").unlink(missing_ok=True)
                raise RuntimeError(f"{' '.join(command)} failed:\n{result.stderr[-3000:]}")
            Path(f"{partial}.tar").rename(tarball)
    return tarball


# ---------------------------------------------------------------------------------------------
# instances


@dataclass(frozen=True)
class Edit:
    """Replace the one occurrence of `old` in a file with `new`."""

    path: str
    old: str
    new: str

    def apply(self, tree: dict[str, str]) -> dict[str, str]:
        text = tree[self.path]
        if text.count(self.old) != 1:
            raise ValueError(f"{self.old!r} is not in {self.path} exactly once")
        return {**tree, self.path: text.replace(self.old, self.new)}


def unified_diff(before: dict[str, str], after: dict[str, str]) -> str:
    """A git-style unified diff between two trees (files present in both)."""
    chunks = []
    for path in sorted(before):
        if before[path] != after[path]:
            lines = difflib.unified_diff(
                before[path].splitlines(keepends=True),
                after[path].splitlines(keepends=True),
                f"a/{path}",
                f"b/{path}",
            )
            chunks.append(f"diff --git a/{path} b/{path}\n{''.join(lines)}")
    return "".join(chunks)


def _test_module(header: str, tests: dict[str, str], names: Iterable[str]) -> str:
    return header + "".join(f"\n\n{tests[name]}" for name in names)


@dataclass(frozen=True)
class Instance:
    """A task recipe: a correct tree, the bug its base commit has, and the test that shows it."""

    instance_id: str
    repo: str
    code: dict[str, str]  # the tree with the bug fixed, tests excluded
    test_path: str
    test_header: str
    tests: dict[str, str]  # test name -> source, all of which pass on the fixed tree
    failing_test: str  # the one the bug breaks; test_patch adds it
    bug: Edit  # turns the fixed tree into the base commit's
    wrong_fix: Edit  # applied to the base tree: changes the buggy line, keeps the bug
    problem_statement: str

    @property
    def base_tree(self) -> dict[str, str]:
        passing = [name for name in self.tests if name != self.failing_test]
        return {**self.bug.apply(self.code), self.test_path: _test_module(self.test_header, self.tests, passing)}

    @property
    def gold_patch(self) -> str:
        return unified_diff(self.base_tree, {**self.base_tree, **self.code})

    @property
    def test_patch(self) -> str:
        full = _test_module(self.test_header, self.tests, self.tests)
        return unified_diff(self.base_tree, {**self.base_tree, self.test_path: full})

    @property
    def wrong_patch(self) -> str:
        return unified_diff(self.base_tree, self.wrong_fix.apply(self.base_tree))

    @property
    def broken_patch(self) -> str:
        """A stale patch: its lines are in no version of the file, so no apply strategy works."""
        path = self.bug.path
        return (
            f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -1,1 +1,1 @@\n"
            '-"""This line was never in the file."""\n+"""Neither was this one."""\n'
        )

    def node(self, test: str) -> str:
        return f"{self.test_path}::{test}"

    def eval_script(self, base_commit: str) -> str:
        """The eval script in the shape of the SWE-bench 5.x datasets' `eval_script` column."""
        reset = f"git checkout {base_commit} {self.test_path}"
        return "\n".join(
            [
                "#!/bin/bash",
                "set -uxo pipefail",
                "cd /testbed",
                "git config --global --add safe.directory /testbed",
                "git status",
                "git show",
                f"git -c core.fileMode=false diff {base_commit}",
                reset,
                f"git apply -v - <<'{HEREDOC}'\n{self.test_patch.removesuffix(chr(10))}\n{HEREDOC}",
                ": '>>>>> Start Test Output'",
                f"python3 -m pytest -rA -p no:cacheprovider {self.test_path}",
                ": '>>>>> End Test Output'",
                reset,
            ]
        ) + "\n"

    def row(self, base_commit: str, image: str) -> dict[str, str]:
        return {
            "repo": self.repo,
            "instance_id": self.instance_id,
            "base_commit": base_commit,
            "patch": self.gold_patch,
            "test_patch": self.test_patch,
            "problem_statement": self.problem_statement,
            "hints_text": "",
            "created_at": "2024-05-01T12:00:00Z",
            "version": "1.0",
            "FAIL_TO_PASS": json.dumps([self.node(self.failing_test)]),
            "PASS_TO_PASS": json.dumps([self.node(n) for n in self.tests if n != self.failing_test]),
            "environment_setup_commit": base_commit,
            "image": image,
            "eval_script": self.eval_script(base_commit),
            "log_parser": "parse_log_pytest",
            "eval_type": "pass_and_fail",
        }


CALC_CODE = {
    "calc/__init__.py": '"""A tiny calculator."""\n\nfrom calc.ops import add, divide, multiply, subtract\n\n'
    '__all__ = ["add", "divide", "multiply", "subtract"]\n',
    "calc/ops.py": '''"""Arithmetic on two numbers."""


def add(a, b):
    """Return the sum of a and b."""
    return a + b


def subtract(a, b):
    """Return a minus b."""
    return a - b


def multiply(a, b):
    """Return the product of a and b."""
    return a * b


def divide(a, b):
    """Return a divided by b."""
    if b == 0:
        raise ZeroDivisionError("division by zero")
    return a / b
''',
}
CALC_TESTS = {
    "test_add": "def test_add():\n    assert add(2, 3) == 5\n",
    "test_subtract": "def test_subtract():\n    assert subtract(5, 3) == 2\n",
    "test_multiply": "def test_multiply():\n    assert multiply(4, 3) == 12\n",
    "test_divide": "def test_divide():\n    assert divide(7, 2) == 3.5\n",
    "test_divide_by_zero": "def test_divide_by_zero():\n    with pytest.raises(ZeroDivisionError):\n"
    "        divide(1, 0)\n",
}
CALC = dict(
    repo="acme/calc",
    code=CALC_CODE,
    test_path="tests/test_ops.py",
    test_header="import pytest\n\nfrom calc import add, divide, multiply, subtract\n",
    tests=CALC_TESTS,
)
TEXT_CODE = {
    "text/__init__.py": '"""Small text helpers."""\n',
    "text/words.py": '''"""Word utilities."""


def word_count(text):
    """Return the number of whitespace-separated words in text."""
    return len(text.split())


def capitalize_words(text):
    """Return text with the first letter of each word in upper case."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))
''',
}

INSTANCES = (
    Instance(
        instance_id="acme__calc-1",
        failing_test="test_add",
        bug=Edit("calc/ops.py", "return a + b", "return a - b"),
        wrong_fix=Edit("calc/ops.py", "return a - b\n\n\ndef subtract", "return abs(a - b)\n\n\ndef subtract"),
        problem_statement="add() subtracts\n\n`calc.add(2, 3)` returns -1; it should return 5.\n",
        **CALC,
    ),
    Instance(
        instance_id="acme__calc-2",
        failing_test="test_divide",
        bug=Edit("calc/ops.py", "return a / b", "return a // b"),
        wrong_fix=Edit("calc/ops.py", "return a // b", "return int(a / b)"),
        problem_statement="divide() truncates\n\n`calc.divide(7, 2)` returns 3; it should return 3.5.\n",
        **CALC,
    ),
    Instance(
        instance_id="acme__text-1",
        repo="acme/text",
        code=TEXT_CODE,
        test_path="tests/test_words.py",
        test_header="from text.words import capitalize_words, word_count\n",
        tests={
            "test_word_count": 'def test_word_count():\n    assert word_count("a b c") == 3\n',
            "test_word_count_runs_of_spaces": "def test_word_count_runs_of_spaces():\n"
            '    assert word_count("hello   world") == 2\n',
            "test_capitalize_words": "def test_capitalize_words():\n"
            '    assert capitalize_words("hello world") == "Hello World"\n',
        },
        failing_test="test_word_count_runs_of_spaces",
        bug=Edit("text/words.py", "return len(text.split())", 'return len(text.split(" "))'),
        wrong_fix=Edit("text/words.py", 'return len(text.split(" "))', 'return len(text.strip().split(" "))'),
        problem_statement='word_count() counts empty words\n\n`word_count("hello   world")` returns 4; '
        "runs of spaces should separate words like one space does.\n",
    ),
    Instance(
        instance_id="acme__calc-3",
        failing_test="test_subtract",
        bug=Edit("calc/ops.py", "return a - b", "return b - a"),
        wrong_fix=Edit("calc/ops.py", "return b - a", "return -(a - b)"),
        problem_statement="subtract() has its operands swapped\n\n`calc.subtract(5, 3)` returns -2; "
        "it should return 2.\n",
        **CALC,
    ),
)
FALLBACK_ONLY = ("acme__calc-3",)


def hub_image(instance_id: str) -> str:
    """The image a 5.x dataset row names: Docker Hub `swebench/`, `__` spelled `_1776_`."""
    return f"swebench/sweb.eval.x86_64.{instance_id}:latest".lower().replace("__", "_1776_")


def fallback_image(instance_id: str, arch: str, namespace: str = FALLBACK_NAMESPACE) -> str:
    """Epoch AI's name for the same image: the id keeps its `__`."""
    return f"{namespace}/swe-bench.eval.{arch}.{instance_id}:latest"


def _repo_tar(tree: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, text in sorted(tree.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"testbed/{path}")
            info.size, info.mode, info.mtime = len(data), 0o644, 1714564800
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _build_instance(client: docker.DockerClient, base: str, instance: Instance, name: str, recipe: str) -> str:
    """Commit the instance's repository at /testbed onto the base image; returns its base commit.
    The labels let a later session find the image in the registry and trust it."""
    script = "set -eu; cd /testbed; git init -q -b main; git add -A; git commit -q -m 'Initial commit'; git rev-parse HEAD"
    container = client.containers.create(base, ["bash", "-c", script], environment=GIT_ENV)
    try:
        container.put_archive("/", _repo_tar(instance.base_tree))
        container.start()
        status = container.wait()["StatusCode"]
        output = container.logs(stderr=False).decode().strip()
        if status != 0:
            raise RuntimeError(f"building {instance.instance_id} failed ({status}):\n{output}")
        commit = output.splitlines()[-1]
        repository, tag = name.rsplit(":", 1)
        labels = f'LABEL {RECIPE_LABEL}="{recipe}" {COMMIT_LABEL}="{commit}"'
        container.commit(repository=repository, tag=tag, changes=[*IMAGE_CHANGES, labels])
        return commit
    finally:
        container.remove(force=True)


def _push(client: docker.DockerClient, name: str) -> None:
    repository, tag = name.rsplit(":", 1)
    for line in client.api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in line:
            raise RuntimeError(f"pushing {name} failed: {line['error']}")


def _published_commits(registry: Registry, targets: dict[str, tuple[str, str]]) -> dict[str, str] | None:
    """Base commits of the images already in the registry, if every one was built from the
    current recipe (by any earlier session); None if any must be built again."""
    commits = {}
    for instance_id, (name, recipe) in targets.items():
        repository, tag = name.removeprefix(f"{registry.address}/").rsplit(":", 1)
        labels = registry.labels(repository, tag)
        if labels is None or labels.get(RECIPE_LABEL) != recipe:
            return None
        commits[instance_id] = labels[COMMIT_LABEL]
    return commits


def _build_and_push(engine: DockerEngine, base: str, targets: dict[str, tuple[str, str]]) -> dict[str, str]:
    """One `docker import` of the cached root, one small commit and one push per instance.
    Returns the base commits; leaves only the base image in the engine."""
    client = engine.client()
    repository, tag = base.rsplit(":", 1)
    client.api.import_image_from_file(str(base_tarball()), repository=repository, tag=tag, changes=list(IMAGE_CHANGES))
    _push(client, base)
    commits = {}
    for instance in INSTANCES:
        name, recipe = targets[instance.instance_id]
        commits[instance.instance_id] = _build_instance(client, base, instance, name, recipe)
        _push(client, name)
    engine.remove_images(*(name for name, _ in targets.values()))
    return commits


@dataclass(frozen=True)
class InstanceDataset:
    """Real SWE-bench instances whose images are in the registry and not in the engine."""

    path: Path  # dataset.jsonl with every row
    rows: list[dict[str, str]]
    gold: dict[str, str]  # instance id -> the dataset's patch
    wrong: dict[str, str]  # instance id -> a patch that applies and leaves the bug in place
    broken: dict[str, str]  # instance id -> a patch that does not apply
    hub_ids: list[str]  # served under the row's `image` (a Docker Hub name, via the mirror)
    fallback_ids: list[str]  # served only under fallback_images[id]
    fallback_namespace: str  # what SWEBENCH_DOCKER_NAMESPACE would be set to
    fallback_images: dict[str, str]  # instance id -> its fallback image (fallback_ids only)

    @property
    def ids(self) -> list[str]:
        return [row["instance_id"] for row in self.rows]

    def row(self, instance_id: str) -> dict[str, str]:
        return next(row for row in self.rows if row["instance_id"] == instance_id)

    def write(self, path: Path, ids: Iterable[str] | None = None, rows: Iterable[dict[str, str]] | None = None) -> Path:
        """Write a dataset file (.jsonl or .json) with the rows for ids, or the given rows."""
        if rows is None:
            wanted = self.ids if ids is None else list(ids)
            rows = [self.row(instance_id) for instance_id in wanted]
        rows = list(rows)
        path.write_text(
            json.dumps(rows) if path.suffix == ".json" else "".join(json.dumps(row) + "\n" for row in rows)
        )
        return path

    @staticmethod
    def write_predictions(path: Path, patches: dict[str, str], model: str = "acme/test-model") -> Path:
        """Write a harness predictions .jsonl: one row per instance id."""
        path.write_text(
            "".join(
                json.dumps({"instance_id": i, "model_name_or_path": model, "model_patch": p}) + "\n"
                for i, p in patches.items()
            )
        )
        return path


@pytest.fixture(scope="session")
def instance_dataset(
    registry: Registry, docker_engine: DockerEngine, tmp_path_factory: pytest.TempPathFactory
) -> InstanceDataset:
    """The instances, with their images in the registry (built only if it does not already
    hold them from the current recipe) and none of them in the engine. The engine does hold
    their common base layer, so that a pull fetches one small layer."""
    tarball = _mmdebstrap()[1]
    base = f"{registry.address}/swebench-tasks-test/base:{tarball.stem}"
    targets = {}  # instance id -> (name it is pushed as, recipe hash)
    for instance in INSTANCES:
        if instance.instance_id in FALLBACK_ONLY:
            name = fallback_image(instance.instance_id, docker_engine.arch)
        else:
            name = f"{registry.address}/{hub_image(instance.instance_id)}"
        recipe = json.dumps([tarball.name, IMAGE_CHANGES, GIT_ENV, repr(instance), name])
        targets[instance.instance_id] = (name, hashlib.sha256(recipe.encode()).hexdigest()[:16])
    with _locked(CACHE_DIR / "images.lock"):  # a second session waits, then finds them built
        published = registry.has(*base.removeprefix(f"{registry.address}/").rsplit(":", 1))
        commits = _published_commits(registry, targets) if published else None
        built = commits is None
        if built:
            commits = _build_and_push(docker_engine, base, targets)
        for instance_id in FALLBACK_ONLY:  # in case a test published it
            registry.delete(*hub_image(instance_id).rsplit(":", 1))
    if not built:
        docker_engine.client().images.pull(base)
    rows = [i.row(commits[i.instance_id], hub_image(i.instance_id)) for i in INSTANCES]
    dataset = InstanceDataset(
        path=tmp_path_factory.mktemp("instances") / "dataset.jsonl",
        rows=rows,
        gold={i.instance_id: i.gold_patch for i in INSTANCES},
        wrong={i.instance_id: i.wrong_patch for i in INSTANCES},
        broken={i.instance_id: i.broken_patch for i in INSTANCES},
        hub_ids=[i.instance_id for i in INSTANCES if i.instance_id not in FALLBACK_ONLY],
        fallback_ids=list(FALLBACK_ONLY),
        fallback_namespace=FALLBACK_NAMESPACE,
        fallback_images={i: targets[i][0] for i in FALLBACK_ONLY},
    )
    dataset.write(dataset.path)
    return dataset
