"""A simulated broadband/cable provider (东莞网络) that only pulls: a client loop that lists its jobs on the
gateway's API, fetches each, applies it to its account book and acknowledges it (signed, idempotent)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import certs
from gateway.logging import get_logger
from gateway.ports.utilities import UtilityService
from sandbox.utilities.books import AccountBook, Entry, Result
from sandbox.utilities.gateway_client import GatewayClient, settled

log = get_logger("sandbox.network")


@dataclass
class PullFaults:
    """What the provider suffers or does wrong: skipped polls (it is down), slowness, repeated acks."""

    down_polls: int = 0  # the next N polls do not happen
    latency: float = 0.0  # seconds before each acknowledgement
    duplicate_acks: bool = False  # each acknowledgement is sent again, with the same and with a new key


def acknowledgement(entry: Entry) -> dict[str, Any]:
    if entry.result is Result.REJECTED and entry.reason is not None:
        return {
            "result": "rejected",
            "reason": entry.reason.value,
            "provider_code": entry.reason.value.upper(),
        }
    return {"result": "done", "reference": entry.reference, "message": "宽带/有线电视已过户"}


class NetworkPullProvider:
    kind: ClassVar[str] = "utility"
    service: ClassVar[UtilityService] = UtilityService.NETWORK
    adapter: ClassVar[str] = "adapters.utilities.pull:PullProvider"

    def __init__(
        self,
        code: str,
        ca: certs.CertificateAuthority,
        registry: certs.Certificate,
        *,
        name: str = "",
        key: certs.SM2PrivateKey | None = None,
        poll_interval: float = 0.2,
        concurrency: int = 8,
    ) -> None:
        self.code = code
        self.name = name or code
        self.key = key or certs.SM2PrivateKey.generate()
        self.certificate = ca.issue(self.key.public_key, code, self.kind)
        self.book = AccountBook("KD")
        self.gateway = GatewayClient(code, self.key, registry.public_key)
        self.faults = PullFaults()
        self.poll_interval = poll_interval
        self.concurrency = concurrency
        self.polls = 0
        self.acks_sent: list[tuple[str, int]] = []  # (delivery id, the gateway's status)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def adapter_entry(self, **overrides: Any) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "name": self.name,
            "certificate_pem": self.certificate.pem.decode(),
            **overrides,
        }

    async def start(self, gateway_url: str) -> None:
        """Start polling the gateway at `gateway_url`."""
        self.gateway.attach(gateway_url)
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._forever(), name=f"{self.code} pull loop")

    async def stop(self) -> None:
        if self._task is not None:
            # The flag as well as the cancel, as the gateway's dispatcher does: a cancel lost inside a poll
            # must not keep the loop (and a test's teardown) going.
            self._stopping = True
            self._task.cancel()
            await asyncio.wait({self._task})
            self._task = None

    async def close(self) -> None:
        await self.stop()
        await self.gateway.close()

    @property
    def running(self) -> bool:
        return self._task is not None

    async def _forever(self) -> None:
        while not self._stopping:
            try:
                handled = await self.poll_once()
            except Exception as exc:  # the gateway down or answering oddly: a real client keeps polling
                log.warning("poll failed", party=self.code, error=repr(exc))
                handled = 0
            if not handled:
                await asyncio.sleep(self.poll_interval)

    async def poll_once(self) -> int:
        """One poll: list, then fetch, apply and acknowledge each listed job; returns how many it handled."""
        if self.faults.down_polls > 0:
            self.faults.down_polls -= 1
            return 0
        self.polls += 1
        items = await self.gateway.open_jobs(limit=100)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(job_id: str) -> bool:
            async with gate:
                return await self.handle(job_id)

        results = await asyncio.gather(*(one(item["id"]) for item in items), return_exceptions=True)
        return sum(1 for r in results if r is True)

    async def handle(self, job_id: str) -> bool:
        fetched = await self.gateway.fetch(job_id)
        if fetched.status != 200:
            return False  # acknowledged meanwhile, or not ours
        job = fetched.body["job"]
        buyers = tuple(person["name"] for person in job["buyers"])
        entry = self.book.apply(job["delivery_id"], job["account_no"], job["address"], buyers)
        if self.faults.latency:
            await asyncio.sleep(self.faults.latency)
        keys = [f"net-{job_id}"] + (
            [f"net-{job_id}", f"net-{job_id}-again"] if self.faults.duplicate_acks else []
        )
        for key in keys:
            for attempt in range(10):
                reply = await self.gateway.acknowledge(job_id, acknowledgement(entry), key)
                if settled(reply.status, reply.body):
                    break
                await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
            self.acks_sent.append((job_id, reply.status))
        return True
