"""The store's review event (by the name its envelope carries: the store aggregate is not in this build yet)
gives AGENT_APPROVED / AGENT_REJECTED to the listing's owner; the deliverer mails them from the read model and
the read model records it, so the next round finds nothing pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.projection_runner import ProjectionRunner
from adapters.settings import Settings
from api.composition import build_container
from application.notifications import NotificationCommands, NotificationDeliverer
from domain.event_types import type_name
from domain.store_listing import StoreListing
from projections.envelope import EventEnvelope
from projections.notifications.projection import NotificationsProjection
from tests.fakes.email import RecordingEmailSender
from tests.read_models import table_rows

STORE_VERSION_REVIEWED = type_name(StoreListing.VersionReviewed)


def reviewed(position: int, approved: bool, at: datetime) -> EventEnvelope:
    return EventEnvelope(
        id=f"listing-1:{position + 1}",
        type=STORE_VERSION_REVIEWED,
        context="store",
        aggregate_id="listing-1",
        aggregate_version=position + 1,
        position=position,
        timestamp=at.isoformat(),
        data={
            "owner_user_id": "carol",
            "store_listing_version_id": f"version-{position}",
            "graph_id": "graph-1",
            "graph_version": position,
            "agent_name": "Summariser",
            "approved": approved,
            "reviewer_id": "admin-1",
            "review_comments": "fine" if approved else "needs a description",
        },
    )


async def test_store_reviews_notify_the_owner_and_are_mailed_once(tmp_path: Path) -> None:
    container = build_container(Settings(AGENTGRAPH_DATA_DIR=tmp_path / "data"))
    try:
        store, queries = container.read_store, container.notification_queries
        before = reviewed(1, True, datetime.now(UTC) - timedelta(minutes=1))  # listed, never e-mailed
        NotificationCommands(container.accounts).set_preferences("carol", "carol@example.com", {}, 3)
        runner = ProjectionRunner(store, [NotificationsProjection()], container.event_logs)
        await runner.catch_up()
        after = [reviewed(2, True, datetime.now(UTC)), reviewed(3, False, datetime.now(UTC))]
        store.apply(NotificationsProjection(), "store", [before, *after])
        page = queries.page("carol", 1, 10)
        assert [n.type for n in page.notifications] == ["AGENT_REJECTED", "AGENT_APPROVED", "AGENT_APPROVED"]
        approved = page.notifications[1].data
        assert approved["agent_name"] == "Summariser" and approved["store_listing_version_id"] == "version-2"
        assert approved["review_comments"] == "fine" and approved["graph_version"] == 2
        assert queries.page("dave", 1, 10).notifications == []
        assert queries.get("dave", page.notifications[0].id) is None

        mails = RecordingEmailSender()
        deliverer = NotificationDeliverer(container.accounts, queries, mails)
        deliverer.run_once()
        assert sorted(m.notification_type for m in mails.sent) == ["AGENT_APPROVED", "AGENT_REJECTED"]
        assert mails.sent[0].items[0]["data"]["agent_name"] == "Summariser"
        await ProjectionRunner(store, [NotificationsProjection()], container.event_logs).catch_up()
        assert queries.pending(10) == []
        rows = table_rows(store, "notification_emails", "notification_id")
        assert {(r["user_id"], r["status"]) for r in rows} == {("carol", "SENT")}
        assert queries.preferences("carol").emails_sent_today in (0, 2)  # 2 unless the test crossed midnight UTC
        deliverer.run_once()
        assert len(mails.sent) == 2
    finally:
        container.close()
