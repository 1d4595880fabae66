"""`python -m gateway.cli`: the same as the `gateway` command."""

from gateway.cli import main

raise SystemExit(main())
