"""Use cases: one eventsourcing Application per bounded context, ports for the outside world."""
