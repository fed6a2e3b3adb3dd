"""The Help & Docs text, as data: `swebench help` prints or emits it, the wizard shows it."""

HELP_TEXT = """\
Common commands:
  swebench setup                  # guided setup (provider, key, model, dataset, count)
  swebench run                    # uses saved defaults; reruns only what is stale
  swebench run -d lite --count 5  # override the dataset and sample size
  swebench run --model gold       # evaluate the dataset's gold patches (no provider needed)
  swebench run --rerun-failed     # re-evaluate (and regenerate) what did not resolve
  swebench preflight              # Docker, key, one image pull, one-instance smoke
  swebench report --json          # the last run's summary for scripts
  swebench doit list              # the task graph, for power users and CI
  swebench clean --all            # remove run state, catalogs and pulled images

Troubleshooting:
  * Image pull denied        -> docker login ghcr.io, or set SWEBENCH_DOCKER_NAMESPACE
  * Provider 401             -> check your key: swebench secrets set <provider>
  * Harness did not write evaluation_results -> read the log whose path the error shows
    (per instance: logs/run_evaluation/<run_id>/<model>/<id>/run_instance.log)
  * Docker not running       -> start Docker (or set DOCKER_HOST), then swebench preflight

Files:
  .env                 non-secret defaults (SWEBENCH_PROVIDER, SWEBENCH_MODEL, ...)
  .swebench/           doit state, dataset and model caches, generated patches
  results/<run_id>/    summary.json and per-instance patch, report and log tail
  evaluation_results/  the harness's own reports

Keys live in the OS keychain (service swebench-runner), never in .env.
Docs: https://www.swebench.com  Harness: https://github.com/SWE-bench/SWE-bench
"""
