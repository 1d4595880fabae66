"""The HTTP layer: app factory, signed bank and callback APIs, back office, problem+json, OpenAPI."""

from gateway.api.app import create_app
from gateway.api.keys import ACTOR, API, CONTAINER, IDEMPOTENCY, PARTICIPANT, REQUEST_ID
from gateway.api.routing import (
    BACKOFFICE_API,
    BANK_API,
    CALLBACKS,
    PUBLIC,
    Endpoint,
    actor_of,
    endpoint,
    json_response,
    read_body,
    read_json,
    require_role,
)

__all__ = [
    "ACTOR",
    "API",
    "BACKOFFICE_API",
    "BANK_API",
    "CALLBACKS",
    "CONTAINER",
    "IDEMPOTENCY",
    "PARTICIPANT",
    "PUBLIC",
    "REQUEST_ID",
    "Endpoint",
    "actor_of",
    "create_app",
    "endpoint",
    "json_response",
    "read_body",
    "read_json",
    "require_role",
]
