"""The integration credentials read side: ``read.integration_credentials`` (metadata only, never a secret)."""
