"""The Celery application: configuration only, tasks live in ``tasks.py``.

The API sends tasks by name (``GRADIENT_TASK``...) through this app and never imports
the task functions. Messages carry job ids only; circuits and results travel through
the store. JSON is the only serializer accepted (never pickle).

Delivery guarantees: a task is acknowledged after it ran (``acks_late``) and given back
to the queue when its process dies (``reject_on_worker_lost``); a message whose worker
vanished entirely comes back after ``visibility_timeout``, which exceeds the hard time
limit so a running task is never handed out twice. The job record counts deliveries and
fails a job that keeps killing its worker.
"""

from __future__ import annotations

from celery import Celery

from .settings import Settings, settings

GRADIENT_TASK = "circuitgrad.gradient"
EVALUATE_CHUNK_TASK = "circuitgrad.evaluate_chunk"


def configure(app: Celery, s: Settings) -> Celery:
    app.conf.update(
        broker_url=s.redis_url,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # keep trying through a Redis restart
        broker_transport_options={
            "visibility_timeout": s.visibility_timeout,
            "global_keyprefix": s.key_prefix,
            "unacked_restore_interval": s.restore_interval,
            "unacked_restore_throttle": 1,
        },
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_store_errors_even_if_ignored=False,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_pool="circuitgrad.worker.pool:TaskPool",  # prefork, replacing processes at once
        worker_proc_alive_timeout=60,
        task_soft_time_limit=s.soft_time_limit,
        task_time_limit=s.hard_time_limit,
        task_default_queue=s.queue,
        task_default_exchange=s.queue,
        task_default_routing_key=s.queue,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_disable_rate_limits=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        broker_pool_limit=32,
    )
    return app


def make_app(s: Settings | None = None) -> Celery:
    s = settings() if s is None else s
    # observe: the log context and the metrics of every task (worker/observe.py)
    include = ["circuitgrad.worker.tasks", "circuitgrad.worker.observe"]
    return configure(Celery("circuitgrad", include=include), s)


app = make_app()
