"""The e-mail port's adapter in this build: e-mails are written to the log (there is no mail server).

A deployment with a mail provider implements ``application.notifications.EmailSender`` the same way, passing
the e-mail's ``key`` as the provider's idempotency key where it has one. The address is masked in the log.
"""

from __future__ import annotations

import logging

from application.notifications import Email

log = logging.getLogger("agentgraph.email")


def masked(address: str) -> str:
    """``a***@example.com`` for ``alice@example.com``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class LogEmailSender:
    """Writes each e-mail's key, recipient (masked), subject and size to the log."""

    def send(self, email: Email) -> None:
        """Log ``email``."""
        log.info(
            "e-mail %s to %s (user %s): %s, %d notification(s)",
            email.key,
            masked(email.to),
            email.user_id,
            email.subject,
            len(email.items),
        )
