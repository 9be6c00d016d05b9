"""Signed outbound webhooks: subscriptions per brand, one delivery row per event, retried."""
