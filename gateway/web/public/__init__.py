"""Public pages, no sign-in: the verification page a certificate's QR code opens, and the file check."""

from gateway.web.public.verify import routes

__all__ = ["routes"]
