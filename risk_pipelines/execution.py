"""Which executor runs a run's steps, chosen by the deployment (RISK_EXECUTOR):

- ``multiprocess`` (default): Dagster's own, each step a process on the machine running the run;
- ``in_process``: every step in the run's process (debugging);
- ``celery``: each step a task on a Celery broker, taken by whichever worker is free
  (``dagster-celery worker start -A dagster_celery.app -y deploy/celery.yaml``), so the weekly
  selection's policy areas, one run each, spread over the workers.

The broker and result backend URLs are read from RISK_CELERY_BROKER and RISK_CELERY_BACKEND
when a run starts, never written into run config, because they may carry a password.
"""

import os

import dagster as dg

EXECUTORS = ("multiprocess", "in_process", "celery")
CELERY_ENVIRONMENT = ("RISK_CELERY_BROKER", "RISK_CELERY_BACKEND")
# A worker holds one task at a time and acknowledges it when done: an idle worker takes the
# next area instead of it queueing behind a busy one, and a task whose worker died is
# delivered again (every step rewrites its own slice, so running it twice is harmless).
CELERY_SETTINGS = {"worker_prefetch_multiplier": 1, "task_acks_late": True}


class ExecutorConfigError(ValueError):
    pass


def executor_from_environment() -> dg.ExecutorDefinition | None:
    """The executor for every job of the code location; None keeps Dagster's default."""
    choice = os.environ.get("RISK_EXECUTOR") or "multiprocess"
    if choice not in EXECUTORS:
        raise ExecutorConfigError(
            f"RISK_EXECUTOR must be one of {', '.join(EXECUTORS)}: {choice!r}"
        )
    if choice == "in_process":
        return dg.in_process_executor
    if choice == "multiprocess":
        return None
    missing = [name for name in CELERY_ENVIRONMENT if not os.environ.get(name)]
    if missing:
        raise ExecutorConfigError(
            f"RISK_EXECUTOR=celery needs {' and '.join(missing)} (e.g. redis://host:6379/0)"
        )
    from dagster_celery import celery_executor

    return celery_executor.configured(
        {
            "broker": {"env": "RISK_CELERY_BROKER"},
            "backend": {"env": "RISK_CELERY_BACKEND"},
            "config_source": CELERY_SETTINGS,
        },
        name="celery",
    )
