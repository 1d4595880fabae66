"""An arq delivery worker wired like `gateway worker`, as its own process so a test can SIGKILL it.

Run: python -m tests.utilities.worker_process CONFIG.json (written by `harness.worker_config`).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from arq.connections import RedisSettings

import certs
from adapters.base import AdapterContext, GatewayIdentity
from adapters.registry import build_adapters
from adapters.utilities import build_utility_providers
from certs import FieldCipher
from gateway import runtime
from gateway.bootstrap import build_container
from gateway.jobs.retry import RetryPolicy
from gateway.jobs.worker import build_worker, worker_database
from gateway.logging import configure_logging
from gateway.privacy import PersonalDataProtector
from gateway.seed import INSTITUTIONS
from gateway.services.context import ServiceContext
from gateway.settings import JobSettings, Settings
from tests.conftest import blob_store


def announce_ready(path: Path) -> None:
    path.write_text(str(os.getpid()))  # the test waits for this file


async def run(config: dict[str, Any]) -> None:
    configure_logging(config.get("log_level", "INFO"), json=True)  # as in production: one JSON line per event
    # arq's own two lines per job repeat the runner's; and gateway.logging cannot format stdlib records yet
    # (add_logger_name runs after remove_processors_meta), which costs a printed traceback per line.
    logging.getLogger("arq").setLevel(logging.WARNING)
    ca = certs.CertificateAuthority.load(Path(config["ca_dir"]))
    registry_key = certs.SM2PrivateKey.from_pem(config["registry_key"].encode())
    cipher = FieldCipher(
        {"k1": bytes.fromhex(config["pii_key"])},
        current_key_id="k1",
        index_key=bytes.fromhex(config["pii_index"]),
    )
    db = worker_database(config["database_url"])  # as `gateway worker`
    services = ServiceContext(
        db=db, protector=PersonalDataProtector(cipher), institutions=dict(INSTITUTIONS), blobs=blob_store()
    )
    context = AdapterContext(identity=GatewayIdentity(registry_key), ca=ca)
    utilities = build_utility_providers(config["utilities"], context)
    banks = build_adapters(config["banks"], None, context)
    settings = Settings(
        data_dir=Path(config["data_dir"]),
        database_url=config["database_url"],
        redis_url=config["redis_url"],
        jobs=JobSettings(**config["jobs"]),
    )
    container = build_container(
        settings,
        database=db,
        trust=certs.CATrustStore(ca),
        registry_key=registry_key,
        services=services,
        adapters=banks,
        utilities=utilities,
        retry_policy=RetryPolicy(schedule=tuple(config["schedule"]), jitter=0.1),
    )
    # As `gateway worker`: the container starts the adapters and binds every handler (gateway.wiring); the
    # test process claims and enqueues, this one only runs jobs.
    await container.open(dispatch=False)
    assert container.runner is not None
    worker = build_worker(
        container.runner, RedisSettings.from_dsn(config["redis_url"]), settings.jobs, handle_signals=False
    )
    announce_ready(Path(config["ready_file"]))
    try:
        await worker.async_run()
    finally:
        await worker.close()
        await container.close()


def main() -> None:
    runtime.run(run(json.loads(Path(sys.argv[1]).read_text())))  # as `gateway worker` runs


if __name__ == "__main__":
    main()
