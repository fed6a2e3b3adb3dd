"""One instance, start to end: mini-swe-agent in the instance's image, our Provider as its model.

The container carries our name and label and is removed when the instance ends, however it
ends (mini-swe-agent itself only removes it in `__del__`, in the background). An instance that
crashed, met a provider error or was interrupted raises: it is not a finished record, so the
next run retries it. `remove_leftovers` removes what a killed process left behind.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from swebench_tasks.agent import load, version
from swebench_tasks.agent.model import OnStep, ProviderModel, config_digest, load_config, model_config
from swebench_tasks.errors import EngineError
from swebench_tasks.providers import ModelInfo, OnWait, Provider, ToolsUnsupported

LABEL = "org.swebench-tasks.agent"


@dataclass(frozen=True)
class Limits:
    """Per-instance limits; None keeps what the shipped config says (250 steps, $3)."""

    step_limit: int | None = None
    cost_limit: float | None = None


@dataclass(frozen=True)
class AgentRecord:
    """A finished instance: what the task graph stores and the summary reports."""

    instance_id: str
    patch: str
    exit_status: str  # submitted | step_limit | cost_limit | error
    steps: int
    cost: float
    protocol: str  # tools | text
    trajectory: str  # path of the saved trajectory (JSON)
    input_tokens: int
    output_tokens: int
    agent_version: str
    config_hash: str
    step_limit: int
    cost_limit: float


def workdir_label(workdir: Path) -> str:
    """The label value marking a working directory's agent containers."""
    return hashlib.sha256(str(workdir.resolve()).encode()).hexdigest()[:12]


def docker_executable() -> str:
    """The binary mini-swe-agent's DockerEnvironment runs (it reads the same variable)."""
    return os.environ.get("MSWEA_DOCKER_EXECUTABLE") or "docker"


def run_instance(
    provider: Provider,
    model: str,
    instance: dict,
    image: str,
    *,
    workdir: Path,
    trajectory: Path,
    limits: Limits = Limits(),
    protocol: str | None = None,
    catalog_info: ModelInfo | None = None,
    on_step: OnStep | None = None,
    on_wait: OnWait | None = None,
) -> AgentRecord:
    """Run the agent on `instance` (a dataset row) in `image` (the row's image, as the caller
    resolved it), saving its trajectory at `trajectory` as it goes. Tool calls unless `protocol`
    says otherwise; a model whose endpoint refuses tools falls back to the text protocol.
    Raises on anything but a finished agent."""
    try:
        return _run(
            provider,
            model,
            instance,
            image,
            workdir,
            trajectory,
            limits,
            protocol or "tools",
            catalog_info,
            on_step,
            on_wait,
        )
    except ToolsUnsupported:
        if protocol is not None:
            raise
        return _run(
            provider, model, instance, image, workdir, trajectory, limits, "text", catalog_info, on_step, on_wait
        )


def _run(
    provider: Provider,
    model_name: str,
    instance: dict,
    image: str,
    workdir: Path,
    trajectory: Path,
    limits: Limits,
    protocol: str,
    catalog_info: ModelInfo | None,
    on_step: OnStep | None,
    on_wait: OnWait | None,
) -> AgentRecord:
    state_dir = workdir / ".swebench"
    mswea = load(state_dir)
    config = load_config(protocol)
    agent_config = dict(config["agent"])
    if limits.step_limit is not None:
        agent_config["step_limit"] = limits.step_limit
    if limits.cost_limit is not None:
        agent_config["cost_limit"] = limits.cost_limit
    agent_config["output_path"] = trajectory
    label = workdir_label(workdir)
    name = f"swebench-agent-{label}-{uuid.uuid4().hex[:8]}"
    environment = {k: v for k, v in config["environment"].items() if k != "environment_class"}
    # docker takes the last --name: ours replaces the one DockerEnvironment makes up.
    environment["run_args"] = ["--rm", "--label", f"{LABEL}={label}", "--name", name]
    environment["executable"] = docker_executable()
    model = ProviderModel(
        provider,
        model_config(provider, model_name, protocol, config),
        state_dir,
        catalog_info=catalog_info,
        on_wait=on_wait,
        on_step=on_step,
    )
    env = None
    try:
        try:
            env = mswea["minisweagent.environments.docker"].DockerEnvironment(
                image=image, logger=logging.getLogger("swebench_tasks.agent"), **environment
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            detail = (getattr(exc, "stderr", None) or "").strip()
            raise EngineError(
                f"could not start the agent container for {image}: {detail or exc}",
                fix="check `swebench preflight` (Docker and the instance image)",
            ) from None
        agent = mswea["minisweagent.agents.default"].DefaultAgent(model, env, **agent_config)
        result = agent.run(task=str(instance.get("problem_statement") or ""))
    finally:
        _remove([name])
        if env is not None:
            env.container_id = None  # removed above: nothing left for its __del__
    return AgentRecord(
        instance_id=str(instance["instance_id"]),
        patch=str(result.get("submission") or ""),
        exit_status=exit_status(result.get("exit_status", ""), agent.n_calls, agent.config.step_limit),
        steps=agent.n_calls,
        cost=round(agent.cost, 6),
        protocol=protocol,
        trajectory=str(trajectory),
        input_tokens=model.input_tokens,
        output_tokens=model.output_tokens,
        agent_version=version(),
        config_hash=config_digest(protocol),
        step_limit=agent.config.step_limit,
        cost_limit=agent.config.cost_limit,
    )


def exit_status(raw: str, steps: int, step_limit: int) -> str:
    """mini-swe-agent's exit status in the summary's words; any other way to stop is "error"
    (e.g. three replies in a row without a usable command)."""
    if raw == "Submitted":
        return "submitted"
    if raw == "LimitsExceeded":
        return "step_limit" if 0 < step_limit <= steps else "cost_limit"
    return "error"


def leftovers(workdir: Path) -> list[str]:
    """Ids of containers carrying this working directory's label (running or not)."""
    result = _docker("ps", "-aq", "--filter", f"label={LABEL}={workdir_label(workdir)}")
    return result.stdout.split()


def remove_leftovers(workdir: Path) -> list[str]:
    """Remove the agent containers a killed run left behind; returns their ids."""
    ids = leftovers(workdir)
    _remove(ids)
    return ids


def _remove(names: list[str]) -> None:
    if names:
        _docker("rm", "-f", *names, check=False)


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        result = subprocess.run(
            [docker_executable(), *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EngineError(f"docker {args[0]} failed: {exc}", fix="check that Docker is running") from None
    if check and result.returncode != 0:
        raise EngineError(
            f"docker {args[0]} failed: {result.stderr.strip()[:300]}", fix="check that Docker is running"
        ) from None
    return result
