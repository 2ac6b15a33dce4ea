"""The store read side: profiles, listings and their versions, reviews, run counts (``read.store_*``)."""
