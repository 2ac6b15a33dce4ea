"""The notifications read side: per-user notifications, their read marks, e-mails, and the preferences."""
