"""Logs are one JSON object per line, for the gateway's own events and the libraries' alike, ID numbers masked."""

from __future__ import annotations

import json
import logging

import pytest

from gateway.logging import configure_logging, get_logger

ID = "441900198503120011"


def test_library_and_gateway_records_render_as_masked_json(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    try:
        logging.getLogger("arq.worker").info("job for %s", ID)
        get_logger("gateway.test").info("case submitted", id_number=ID, password="s3cret")
        try:
            raise ValueError(f"bad id {ID}")
        except ValueError:
            logging.getLogger("aiohttp.server").exception("handler failed")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["logger"] for line in lines] == ["arq.worker", "gateway.test", "aiohttp.server"]
    assert ID not in json.dumps(lines, ensure_ascii=False)
    assert lines[1]["password"] == "***"
    assert "ValueError" in lines[2]["exception"]
