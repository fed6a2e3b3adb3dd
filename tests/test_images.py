"""Instance images: names and pull-failure classes (unit), then pulls with registry fix-ups
against the real engine and registries (docker). The engine client itself: test_engine.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dotenv import dotenv_values

from swebench_tasks import images
from swebench_tasks.config import load_settings
from swebench_tasks.engine import EngineInfo, image_id, local_tags
from swebench_tasks.errors import EngineError, SwebenchError, UsageError
from swebench_tasks.stages.graph import run_graph
from swebench_tasks.stages.runcontext import RunContext
from swebench_tasks.ui import RunProgress, Ui
from tests.support.authregistry import AuthRegistry
from tests.support.engine import DockerEngine, InstanceDataset, fallback_image

FALLBACK_ONLY = "acme__calc-3"


class Notes(RunProgress):
    """Progress that keeps its notes and stage lines for the test to read."""

    def __init__(self) -> None:
        super().__init__(Ui(no_input=True))
        self.lines: list[str] = []

    def note(self, text: str) -> None:
        self.lines.append(text)

    def set(self, name: str, done: int, item: str = "", note: str = "") -> None:
        super().set(name, done, item, note)
        if item:
            self.lines.append(f"{name} {done} {item} {note}")


def images_in(names: list[str]) -> list[str]:
    return [n for n in names if n.startswith("image:")]


def make_graph(workdir: Path, dataset: Path, ids: list[str], *, interactive: bool = False, **flags) -> RunContext:
    """A graph for gold patches (unless flags say otherwise) whose progress notes the test can read."""
    settings = load_settings(workdir, dataset=str(dataset), instance_ids=tuple(ids), no_input=not interactive,
                             max_workers=2, **{"model": "gold", **flags})
    return RunContext(settings, Ui(no_input=not interactive), Notes())


@pytest.fixture
def pulls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Every pull the tool asks the engine for: (name, platform)."""
    seen: list[tuple[str, str | None]] = []
    real = images._pull

    def spy(name, platform, on_event):
        seen.append((name, platform))
        return real(name, platform, on_event)

    monkeypatch.setattr(images, "_pull", spy)
    return seen


# -- unit ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("message, status, kind", [
    ("pull access denied for swebench/x, repository does not exist or may require 'docker login'", 404, "denied"),
    ("Head \"https://ghcr.io/v2/x/manifests/latest\": unauthorized", 500, "auth"),
    ("no basic auth credentials", None, "auth"),
    ("manifest for 127.0.0.1:5000/epoch/x:latest not found: manifest unknown", 404, "missing"),
    ("toomanyrequests: You have reached your pull rate limit.", 500, "rate-limited"),
    ("Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io: no such host", 500,
     "unreachable"),
    ("write /var/lib/docker/tmp/x: no space left on device", 500, "disk"),
    ("something nobody has seen", None, "other"),
])
def test_pull_failures_are_classified(message: str, status: int | None, kind: str) -> None:
    assert images.classify(message, status) == kind


@pytest.mark.parametrize("value, ok", [
    ("ghcr.io/epoch-research", True), ("127.0.0.1:5000/epoch", True), ("myuser", True),
    ("ghcr.io/Epoch", False), ("https://ghcr.io/x", False), ("ghcr.io/x/", False), ("a b", False), ("", False),
])
def test_namespace_is_validated(workspace: Path, monkeypatch: pytest.MonkeyPatch, value: str, ok: bool) -> None:
    monkeypatch.setenv("SWEBENCH_FALLBACK_NAMESPACE", value or " ")
    settings = load_settings(workspace)
    if ok:
        assert images.fallback_namespace(settings) == value
    else:
        with pytest.raises(UsageError, match="SWEBENCH_FALLBACK_NAMESPACE") as err:
            images.fallback_namespace(settings)
        assert err.value.exit_code == 2


def test_namespace_precedence(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert images.fallback_namespace(load_settings(workspace)) == "ghcr.io/epoch-research"
    monkeypatch.setenv("SWEBENCH_FALLBACK_NAMESPACE", "127.0.0.1:5000/epoch")
    assert images.fallback_namespace(load_settings(workspace)) == "127.0.0.1:5000/epoch"
    monkeypatch.setenv("SWEBENCH_DOCKER_NAMESPACE", "registry.example/mine")
    assert images.fallback_namespace(load_settings(workspace)) == "registry.example/mine"


def test_names() -> None:
    assert images.fallback_name("ghcr.io/epoch-research", "arm64", "django__django-11099") == \
        "ghcr.io/epoch-research/swe-bench.eval.arm64.django__django-11099:latest"
    assert images.split_tag("127.0.0.1:5000/epoch/x") == ("127.0.0.1:5000/epoch/x", ":", "latest")
    assert images.split_tag("swebench/x:v2") == ("swebench/x", ":", "v2")
    assert images.registry_host("swebench/sweb.eval.x86_64.a:latest") == "docker.io"
    assert images.registry_host("127.0.0.1:5000/epoch/x:latest") == "127.0.0.1:5000"
    assert images.registry_host("ghcr.io/epoch-research/x:latest") == "ghcr.io"
    with pytest.raises(UsageError, match="no `image` column"):
        images.expected_image({"instance_id": "a__b-1"})


def test_arch_comes_from_the_engine_unless_overridden(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    info = EngineInfo("unix:///x", "id", "20.10", "x86_64", "linux", "/var/lib/docker", ())
    assert images.effective_arch(load_settings(workspace), info) == "x86_64"
    monkeypatch.setenv("SWEBENCH_ARCH", "aarch64")
    assert images.effective_arch(load_settings(workspace), info) == "arm64"
    monkeypatch.setenv("SWEBENCH_ARCH", "sparc")
    with pytest.raises(UsageError, match="SWEBENCH_ARCH"):
        images.effective_arch(load_settings(workspace), info)


@pytest.fixture
def fake_engine(monkeypatch: pytest.MonkeyPatch) -> dict:
    """An engine that answers and has nothing; `_pull` fails per name as `failures` says."""
    state: dict = {"failures": {}, "pulled": [], "present": set()}
    info = EngineInfo("unix:///fake", "id", "20.10", "x86_64", "linux", "/x", ())
    monkeypatch.setattr("swebench_tasks.engine.engine_info", lambda: info)
    monkeypatch.setattr("swebench_tasks.engine.image_id", lambda name: "sha256:1" if name in state["present"] else None)
    monkeypatch.setattr("swebench_tasks.engine.tag", lambda source, repo, tag: state["present"].add(f"{repo}:{tag}"))

    def pull(name, platform, on_event):
        state["pulled"].append(name)
        if name in state["failures"]:
            raise images.PullError(name, *state["failures"][name])
        state["present"].add(name)

    monkeypatch.setattr(images, "_pull", pull)
    return state


ROW = {"instance_id": "acme__x-1", "image": "swebench/sweb.eval.x86_64.acme_1776_x-1:latest"}
FALLBACK = "ghcr.io/epoch-research/swe-bench.eval.x86_64.acme__x-1:latest"


@pytest.mark.parametrize("kind, fix", [("disk", "free disk space"), ("engine", "start Docker"),
                                       ("other", "SWEBENCH_DOCKER_NAMESPACE")])
def test_what_a_fallback_cannot_fix_is_reported(workspace: Path, fake_engine: dict, kind: str, fix: str) -> None:
    fake_engine["failures"][ROW["image"]] = (kind, "boom")
    graph = RunContext(load_settings(workspace, no_input=True), Ui(no_input=True), Notes())
    with pytest.raises(EngineError) as err:
        images.ensure_image(graph, ROW)
    assert fix in err.value.fix and fake_engine["pulled"] == [ROW["image"]]


@pytest.mark.parametrize("kind", images.FALLBACK_KINDS)
def test_each_fallback_reason_tries_the_namespace_once(workspace: Path, fake_engine: dict, kind: str) -> None:
    fake_engine["failures"][ROW["image"]] = (kind, "boom")
    graph = RunContext(load_settings(workspace, no_input=True), Ui(no_input=True), Notes())
    result = images.ensure_image(graph, ROW)
    assert (result.how, result.source) == ("fallback", FALLBACK)
    assert fake_engine["pulled"] == [ROW["image"], FALLBACK] and ROW["image"] in fake_engine["present"]
    assert set(images.recorded(graph.paths)) == {ROW["image"], FALLBACK}


def test_fallback_missing_too_names_both_and_the_fix(workspace: Path, fake_engine: dict) -> None:
    fake_engine["failures"].update({ROW["image"]: ("unreachable", "no such host"), FALLBACK: ("missing", "gone")})
    graph = RunContext(load_settings(workspace, no_input=True), Ui(no_input=True), Notes())
    with pytest.raises(EngineError) as err:
        images.ensure_image(graph, ROW)
    assert err.value.message == f"cannot pull {ROW['image']} (registry unreachable) nor its fallback {FALLBACK} " \
                                "(not found)"
    assert "SWEBENCH_DOCKER_NAMESPACE" in err.value.fix and fake_engine["pulled"] == [ROW["image"], FALLBACK]


# -- real engine and registries ---------------------------------------------------------------------------

docker = pytest.mark.docker


@pytest.fixture
def engine(docker_engine: DockerEngine, instance_dataset: InstanceDataset):
    """The engine with none of the instance images; what a test pulls is removed afterwards."""
    names = [row["image"] for row in instance_dataset.rows]
    names += [fallback_image(i, arch, ns) for i in instance_dataset.ids for arch in ("x86_64", "arm64")
              for ns in (instance_dataset.fallback_namespace,)]
    docker_engine.remove_images(*names)
    yield docker_engine
    docker_engine.remove_images(*names)


@docker
def test_expected_name_is_pulled_once(workspace: Path, engine: DockerEngine, instance_dataset: InstanceDataset,
                                      pulls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    iid = instance_dataset.hub_ids[0]
    expected = instance_dataset.row(iid)["image"]
    graph = make_graph(workspace, instance_dataset.path, [iid])
    run_graph(graph, ["image"])
    assert images_in(graph.record.executed) == [f"image:{iid}"]
    assert engine.has_image(expected) and pulls == [(expected, None)]
    assert any("layers" in line and "MB" in line for line in graph.progress.lines), graph.progress.lines
    assert images.recorded(graph.paths)[expected]["how"] == "pulled"

    assert expected in local_tags()
    asked: list[str] = []  # an up-to-date run lists the engine's images once, asks for none by name
    monkeypatch.setattr("swebench_tasks.engine.image_id", lambda name: asked.append(name))
    again = make_graph(workspace, instance_dataset.path, [iid])
    run_graph(again, ["image"])
    assert again.record.executed == [] and images_in(again.record.up_to_date) == [f"image:{iid}"]
    assert pulls == [(expected, None)] and asked == []


@docker
def test_fallback_is_pulled_tagged_and_saved_once(workspace: Path, engine: DockerEngine,
                                                  instance_dataset: InstanceDataset, pulls: list,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEBENCH_FALLBACK_NAMESPACE", instance_dataset.fallback_namespace)
    row = instance_dataset.row(FALLBACK_ONLY)
    fallback = instance_dataset.fallback_images[FALLBACK_ONLY]
    graph = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=True)
    run_graph(graph, ["image"])
    assert [name for name, _ in pulls] == [row["image"], fallback]
    assert engine.has_image(row["image"]) and engine.has_image(fallback)
    assert image_id(row["image"]) == image_id(fallback)
    env = (workspace / ".env").read_text()
    assert env.count("SWEBENCH_DOCKER_NAMESPACE=") == 1
    assert dotenv_values(workspace / ".env")["SWEBENCH_DOCKER_NAMESPACE"] == instance_dataset.fallback_namespace
    assert set(images.recorded(graph.paths)) == {row["image"], fallback}

    # Same instance again: present, so nothing is pulled and `.env` is not touched.
    again = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=True)
    run_graph(again, ["image"])
    assert images_in(again.record.up_to_date) == [f"image:{FALLBACK_ONLY}"] and len(pulls) == 2
    assert (workspace / ".env").read_text() == env

    # `clean --images` removes what was pulled or tagged, and nothing else (not the user's own tag).
    engine.docker("tag", fallback, "mine/unrelated:1")
    try:
        assert sorted(images.remove_pulled(graph.paths, dry_run=True)) == sorted([row["image"], fallback])
        assert engine.has_image(row["image"])
        assert sorted(images.remove_pulled(graph.paths)) == sorted([row["image"], fallback])
        assert not engine.has_image(row["image"]) and not engine.has_image(fallback)
        assert engine.has_image("mine/unrelated:1")
        assert images.recorded(graph.paths) == {}
    finally:
        engine.remove_images("mine/unrelated:1")


@docker
def test_fallback_without_input_leaves_env_alone(workspace: Path, engine: DockerEngine,
                                                 instance_dataset: InstanceDataset,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEBENCH_FALLBACK_NAMESPACE", instance_dataset.fallback_namespace)
    graph = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=False)
    run_graph(graph, ["image"])
    assert engine.has_image(instance_dataset.row(FALLBACK_ONLY)["image"])
    assert not (workspace / ".env").exists()


@docker
def test_users_namespace_is_never_overwritten(workspace: Path, engine: DockerEngine,
                                              instance_dataset: InstanceDataset) -> None:
    (workspace / ".env").write_text(f"SWEBENCH_DOCKER_NAMESPACE={instance_dataset.fallback_namespace}\n")
    before = (workspace / ".env").read_text()
    graph = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=True)
    run_graph(graph, ["image"])
    assert engine.has_image(instance_dataset.row(FALLBACK_ONLY)["image"])
    assert (workspace / ".env").read_text() == before


@docker
def test_clean_keeps_an_image_that_changed_since(workspace: Path, engine: DockerEngine,
                                                 instance_dataset: InstanceDataset) -> None:
    """A recorded name now pointing at another image (rebuilt by the user) is not ours any more."""
    iid = instance_dataset.hub_ids[0]
    expected = instance_dataset.row(iid)["image"]
    graph = make_graph(workspace, instance_dataset.path, [iid])
    run_graph(graph, ["image"])
    path = images.record_file(graph.paths)
    data = json.loads(path.read_text())
    data["images"][expected]["id"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(data))
    assert images.remove_pulled(graph.paths) == []
    assert engine.has_image(expected) and images.recorded(graph.paths) == {}


@docker
def test_login_required_gives_guidance_without_a_loop(workspace: Path, engine: DockerEngine,
                                                      instance_dataset: InstanceDataset,
                                                      auth_registry: AuthRegistry, pulls: list,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEBENCH_FALLBACK_NAMESPACE", auth_registry.namespace)
    monkeypatch.setenv("DOCKER_CONFIG", str(workspace / "docker-config"))
    graph = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY])
    with pytest.raises(EngineError) as err:
        run_graph(graph, ["image"])
    assert f"docker login {auth_registry.address}" in err.value.fix
    assert "login required" in err.value.message and err.value.exit_code == 4
    assert len(pulls) == 2  # the expected name, then the fallback once


@docker
def test_login_is_offered_once_in_a_tty(workspace: Path, engine: DockerEngine, instance_dataset: InstanceDataset,
                                        auth_registry: AuthRegistry, pulls: list,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Accepted: `docker login` runs (here into a private DOCKER_CONFIG) and the fallback is
    retried once, then pulls; a refused or failed login ends after one offer."""
    config = workspace / "docker-config"
    monkeypatch.setenv("SWEBENCH_FALLBACK_NAMESPACE", auth_registry.namespace)
    monkeypatch.setenv("DOCKER_CONFIG", str(config))
    logins: list[str] = []

    def failing_login(host: str) -> bool:
        logins.append(host)
        return False

    graph = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=True)
    graph.ui.login = failing_login  # the front's offer: here refused or failed
    row = instance_dataset.row(FALLBACK_ONLY)
    for _ in range(2):  # a second instance (or attempt) in the same run is not asked again
        with pytest.raises(EngineError, match="login required"):
            images.ensure_image(graph, row)
    assert logins == [auth_registry.address] and len(pulls) == 4

    pulls.clear()
    fresh = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=True)
    fresh.ui.login = lambda host: logins.append(host) or auth_registry.login(config).returncode == 0
    result = images.ensure_image(fresh, row)
    fallback = fallback_image(FALLBACK_ONLY, engine.arch, auth_registry.namespace)
    assert result.how == "fallback" and result.source == fallback
    assert [name for name, _ in pulls] == [row["image"], fallback, fallback]
    assert logins == [auth_registry.address] * 2 and engine.has_image(row["image"])
    engine.remove_images(fallback)


@docker
def test_arm64_prefers_native_images_then_offers_emulation(workspace: Path, engine: DockerEngine,
                                                           instance_dataset: InstanceDataset, pulls: list,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWEBENCH_ARCH", "arm64")
    monkeypatch.setenv("SWEBENCH_FALLBACK_NAMESPACE", instance_dataset.fallback_namespace)
    monkeypatch.delenv("DOCKER_DEFAULT_PLATFORM", raising=False)
    row = instance_dataset.row(FALLBACK_ONLY)
    arm = fallback_image(FALLBACK_ONLY, "arm64", instance_dataset.fallback_namespace)
    amd = fallback_image(FALLBACK_ONLY, "x86_64", instance_dataset.fallback_namespace)

    graph = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY])
    with pytest.raises(EngineError) as err:
        images.ensure_image(graph, row)
    assert "no arm64 image" in err.value.message and "DOCKER_DEFAULT_PLATFORM=linux/amd64" in err.value.fix
    assert [name for name, _ in pulls] == [row["image"], arm]

    asked: list[str] = []
    pulls.clear()
    tty = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY], interactive=True)
    tty.ui.confirm = lambda question: asked.append(question) or True
    result = images.ensure_image(tty, row)
    assert pulls == [(row["image"], None), (arm, None), (amd, "linux/amd64")]
    assert result.source == amd and len(asked) == 1 and "emulation" in asked[0]
    # The run's harness is given the platform; the process environment is left alone.
    assert images.emulated_platform(tty) == "linux/amd64" and "DOCKER_DEFAULT_PLATFORM" not in os.environ
    assert images.emulated_platform(graph) is None  # another run (graph) decides for itself

    # For the rest of the session the emulated image is pulled directly.
    engine.remove_images(row["image"], amd)
    pulls.clear()
    images.ensure_image(tty, row)
    assert pulls == [(row["image"], None), (amd, "linux/amd64")] and len(asked) == 1


@docker
def test_stopped_engine_is_reported_not_retried(workspace: Path, engine: DockerEngine,
                                                instance_dataset: InstanceDataset, tmp_path: Path,
                                                pulls: list, monkeypatch: pytest.MonkeyPatch) -> None:
    graph = make_graph(workspace, instance_dataset.path, [FALLBACK_ONLY])
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'stopped.sock'}")
    with pytest.raises(SwebenchError) as err:
        images.ensure_image(graph, instance_dataset.row(FALLBACK_ONLY))
    assert err.value.exit_code == 4 and "start Docker" in err.value.line() and pulls == []
