"""The bounded contexts beyond graphs and executions: accounts (API keys so far), store, schedules.

Each already is an eventsourcing Application of its own, with its own events
table (``accounts_events`` ... in PostgreSQL, ``accounts.sqlite3`` ...
embedded, made by ``agentgraph db init``), its notification log, its Kafka
topic (``<prefix>.accounts`` ...) and its relay position. Their logs stay
empty until their aggregates exist (credits come with the accounts issue,
listings with the store issue; schedules: ``application.schedules``);
adding those changes no infrastructure: the relay, the projector and the
rebuild already follow every context's log.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.application import Application

from application.accounts import AccountsApplication
from application.schedules import SchedulesApplication
from application.store import StoreApplication

LATER_CONTEXTS: dict[str, type[Application[UUID]]] = {
    app.name: app for app in (AccountsApplication, StoreApplication, SchedulesApplication)
}
"""context name -> Application class, in the order the contexts are listed."""
