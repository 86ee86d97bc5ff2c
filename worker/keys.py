"""Every Redis key the service writes, in one place.

    {p}blob:{id}              manifest of a stored blob (written last: the commit point)
    {p}blob:{id}:{i}          its i-th compressed chunk
    {p}acl:{circuit_id}       set of tenants that may read a circuit
    {p}job:{id}               hash: the job record the API serves
    {p}jobidx:{tenant}:{key}  the current job id for a tenant's request content key
    {p}jobdone:{id}           set of finished chunk indices of an evaluation job
    {p}jobtries:{id}          hash: deliveries per chunk of an evaluation job
    {p}result:{key}           result summary of a request content key (any tenant)
    {p}rate:{tenant}:{sec}    request counter of one second
    {p}workers                sorted set: worker name -> last heartbeat (unix time)
    {p}jobs:done              pub/sub channel: the id of each job that became final
    {p}jobs:active            sorted set: every job not final -> when to look at it next
                              (running: its lease's end; queued: when to send it again)
    {p}reaper                 lock: the one worker process that reaps at a time
    {p}tcircuits:{tenant}     sorted set: circuit id -> when the tenant last stored or derived it
    {p}tjobs:{tenant}         sorted set: job id -> when it was created (the tenant's jobs)
    {p}pins:{circuit_id}      set of the queued or running jobs that read a circuit
    {p}orphans                sorted set: circuits no tenant refers to, kept for a job
    {p}secret                 the key that signs page tokens

``{p}`` is the configured prefix; kombu's own keys get the same prefix through its
``global_keyprefix`` option, so one deployment's keys can be listed, or wiped, together.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "cg:"

    def blob(self, blob_id: str) -> str:
        return f"{self.prefix}blob:{blob_id}"

    def chunk(self, blob_id: str, i: int) -> str:
        return f"{self.prefix}blob:{blob_id}:{i}"

    def acl(self, circuit_id: str) -> str:
        return f"{self.prefix}acl:{circuit_id}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def job_index(self, tenant: str, content_key: str) -> str:
        return f"{self.prefix}jobidx:{tenant}:{content_key}"

    def job_done(self, job_id: str) -> str:
        return f"{self.prefix}jobdone:{job_id}"

    def job_tries(self, job_id: str) -> str:
        return f"{self.prefix}jobtries:{job_id}"

    def result(self, content_key: str) -> str:
        return f"{self.prefix}result:{content_key}"

    def rate(self, tenant: str, second: int) -> str:
        return f"{self.prefix}rate:{tenant}:{second}"

    def workers(self) -> str:
        return f"{self.prefix}workers"

    def done_channel(self) -> str:
        return f"{self.prefix}jobs:done"

    def active(self) -> str:
        return f"{self.prefix}jobs:active"

    def reaper(self) -> str:
        return f"{self.prefix}reaper"

    def tenant_circuits(self, tenant: str) -> str:
        return f"{self.prefix}tcircuits:{tenant}"

    def tenant_jobs(self, tenant: str) -> str:
        return f"{self.prefix}tjobs:{tenant}"

    def pins(self, circuit_id: str) -> str:
        return f"{self.prefix}pins:{circuit_id}"

    def orphans(self) -> str:
        return f"{self.prefix}orphans"

    def secret(self) -> str:
        return f"{self.prefix}secret"
