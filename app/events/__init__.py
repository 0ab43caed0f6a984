"""What the features share below themselves: the webhook event record (record.py), written in
the business transaction, and the claim on an outbox table (claims.py) by which notices and
webhook deliveries are handed to one worker at a time."""
