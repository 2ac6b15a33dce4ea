"""The credits read side: ``read.credit_transactions``, ``read.credit_balances``, ``read.credit_refund_requests``."""
