"""Pure domain: delivery policy (retries, quiet hours, rate limits), signatures, channels."""
