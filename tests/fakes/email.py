"""A test double of the e-mail port: keeps what it was given, and can fail on demand."""

from __future__ import annotations

from application.notifications import Email


class RecordingEmailSender:
    """Remembers every e-mail handed to it (``failing``: raise instead, as a mail provider that is down)."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.failing = False

    def send(self, email: Email) -> None:
        if self.failing:
            raise ConnectionError("the mail provider is down")
        self.sent.append(email)
