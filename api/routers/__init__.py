"""One router per resource; commands and queries on separate routers."""
