"""Every `gateway`, `gateway-admin` and `gw-certs` command docs/deployment.md tells an operator to run is one
the command line accepts (its parser, with the same words and options)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from certs.cli import build_parser as gw_certs_parser
from gateway.cli import build_parser as gateway_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "deployment.md"
TOOLS = {"gateway": gateway_parser, "gateway-admin": gateway_parser, "gw-certs": gw_certs_parser}


def documented_commands() -> list[tuple[str, list[str]]]:
    """(tool, its arguments) for each command line in the doc's sh blocks and inline code."""
    text = DOC.read_text()
    lines = [line for block in re.findall(r"```sh\n(.*?)```", text, re.S) for line in block.splitlines()]
    lines += re.findall(r"`((?:gateway-admin|gateway|gw-certs) [^`]+)`", text)
    found = []
    for line in lines:
        words = shlex.split(line.split(" #", 1)[0].split(" < ", 1)[0])  # no comment, no redirection
        while words and "=" in words[0] and not words[0].startswith("-"):  # VAR=value before the command
            words.pop(0)
        if words and words[0] in TOOLS and len(words) > 1:
            found.append((words[0], words[1:]))
    return found


COMMANDS = documented_commands()


def test_the_doc_has_the_commands_it_should() -> None:
    said = {" ".join(args[:2]) for _tool, args in COMMANDS}
    for expected in (
        "config check",
        "migrate",
        "audit checkpoint",
        "audit verify",
        "pii rekey",
        "keys rotate-registry",
        "ca-init --dir",
        "crl --dir",
    ):
        assert any(s.startswith(expected) for s in said), expected


@pytest.mark.parametrize(("tool", "args"), COMMANDS, ids=[" ".join([t, *a])[:60] for t, a in COMMANDS])
def test_each_documented_command_parses(tool: str, args: list[str]) -> None:
    placeholders = {"…": "x", "<SERIAL>": "3C39", "<code>": "icbc-dg"}
    for placeholder, value in placeholders.items():
        args = [a.replace(placeholder, value) for a in args]
    try:
        TOOLS[tool]().parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{tool} {' '.join(args)}: refused by its parser (exit {exc.code})")
