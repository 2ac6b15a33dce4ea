"""The API keys read side: ``read.api_keys``."""
