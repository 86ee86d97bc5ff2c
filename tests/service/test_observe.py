"""Request ids, JSON log lines and /metrics, through the Flask app on a real Redis."""

from __future__ import annotations

import io
import json
import logging

from prometheus_client.parser import text_string_to_metric_families

from circuitgrad.worker import logs
from circuitgrad.worker.celery_app import GRADIENT_TASK
from circuitgrad.worker.celery_app import app as celery_app
from circuitgrad.worker.runtime import runtime, using


def scrape(client) -> dict[tuple[str, tuple], float]:
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    out = {}
    for family in text_string_to_metric_families(r.get_data(as_text=True)):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_request_ids_are_returned_and_made_up_when_missing(client):
    r = client.get("/v1/health", headers={"X-Request-ID": "abc-123"})
    assert r.headers["X-Request-ID"] == "abc-123"
    made = client.get("/v1/health").headers["X-Request-ID"]
    assert len(made) == 32 and made != client.get("/v1/health").headers["X-Request-ID"]
    odd = client.get("/v1/health", headers={"X-Request-ID": "no spaces\tplease"})
    assert odd.headers["X-Request-ID"] != "no spaces\tplease"
    assert client.get("/v1/nowhere").headers["X-Request-ID"]  # errors too


def test_the_request_id_follows_the_job_into_the_worker(client, service_settings, caplog):
    rt = runtime(service_settings)
    job = client.post(
        "/v1/gradients", json={"expression": "x*y*w"}, headers={"X-Request-ID": "req-42"}
    ).get_json()
    assert rt.jobs.get(job["id"])["request_id"] == "req-42"
    celery_app.loader.import_default_modules()
    with caplog.at_level(logging.INFO, logger="circuitgrad.worker"), using(rt):
        caplog.handler.addFilter(logs.ContextFilter("worker"))
        celery_app.tasks[GRADIENT_TASK].apply(args=[job["id"]])
    mine = [r for r in caplog.records if r.name == "circuitgrad.worker"]
    assert len(mine) >= 2  # started, done
    assert {(r.request_id, r.job_id) for r in mine} == {("req-42", job["id"])}
    assert logs.current_job_id() == "" and logs.current_request_id() == ""  # reset after


def test_log_lines_are_json_with_the_context():
    stream = io.StringIO()
    logger = logging.getLogger("circuitgrad.test-json")
    logger.addHandler(logs.handler("api", stream))
    logger.propagate = False
    with logs.bind(request_id="r1", job_id="j1"):
        logger.warning("hello %s", "world", extra={"status": 201})
    logger.info("below the level: not written")
    logger.error("outside")
    first, second = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert first["message"] == "hello world" and first["level"] == "WARNING"
    assert first["request_id"] == "r1" and first["job_id"] == "j1" and first["status"] == 201
    assert first["component"] == "api" and first["time"].endswith("Z") and first["pid"]
    assert "request_id" not in second and second["message"] == "outside"


def test_metrics_parse_and_move_with_requests(client):
    before = scrape(client)
    for _ in range(3):
        client.get("/v1/jobs/no-such-job")
    client.post("/v1/circuits", json={"expression": "x + y*y"})
    after = scrape(client)
    key = {"method": "GET", "endpoint": "/v1/jobs/<job_id>", "status": "404"}
    name = "circuitgrad_http_requests_total"
    assert value(after, name, **key) - value(before, name, **key) == 3
    hist = "circuitgrad_http_request_duration_seconds_count"
    labels = {"method": "POST", "endpoint": "/v1/circuits"}
    assert value(after, hist, **labels) >= value(before, hist, **labels) + 1
    assert value(after, "circuitgrad_store_up") == 1
    assert value(after, "circuitgrad_store_used_bytes") > 0
    assert ("circuitgrad_queue_depth", ()) in after
    unknown = {"method": "GET", "endpoint": "unmatched", "status": "404"}
    client.get("/v1/nowhere/at/all")
    assert value(scrape(client), name, **unknown) >= 1


def test_job_metrics_move_as_jobs_run(client, service_settings):
    rt = runtime(service_settings)
    before = scrape(client)
    job = client.post("/v1/gradients", json={"expression": "tanh(x)*q"}).get_json()
    celery_app.loader.import_default_modules()
    with using(rt):
        celery_app.tasks[GRADIENT_TASK].apply(args=[job["id"]])
    after = scrape(client)
    finished = ("circuitgrad_jobs_finished_total", {"kind": "gradient", "status": "succeeded"})
    assert value(after, finished[0], **finished[1]) == value(before, finished[0], **finished[1]) + 1
    submitted = ("circuitgrad_jobs_submitted_total", {"kind": "gradient"})
    assert value(after, *submitted[:1], **submitted[1]) >= 1
    duration = (
        "circuitgrad_job_duration_seconds_count",
        {"kind": "gradient", "outcome": "succeeded"},
    )
    assert value(after, duration[0], **duration[1]) > value(before, duration[0], **duration[1])
    size = "circuitgrad_job_result_bytes_count"
    assert value(after, size, kind="gradient") > value(before, size, kind="gradient")


def test_metrics_need_no_key_and_survive_a_lost_store(service_settings):
    from dataclasses import replace

    from circuitgrad.service.app import create_app

    keyed = create_app(replace(service_settings, api_keys=(("k", "t"),))).test_client()
    assert keyed.get("/metrics").status_code == 200
    assert keyed.get("/v1/usage").status_code == 401
    down = create_app(replace(service_settings, redis_url="redis://127.0.0.1:1/0")).test_client()
    assert value(scrape(down), "circuitgrad_store_up") == 0
