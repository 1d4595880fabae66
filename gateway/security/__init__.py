"""Who is calling: request-signature glue, idempotency keys, nonces, back-office users, tokens and roles."""
