"""Signed webhooks: partners subscribe a URL to events and receive signed POSTs.

``services.emit`` records one delivery per subscription inside the caller's
transaction; ``tasks.deliver_webhook`` sends it after commit, retrying with
backoff. Delivery is at least once: partners de-duplicate on ``Shelters-Event-Id``.
"""
