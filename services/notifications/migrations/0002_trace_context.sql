-- The trace context of the request each delivery came from, so the delivery (and the webhook
-- call) joins the request's trace. A W3C traceparent: ids only, nothing personal.

ALTER TABLE deliveries ADD COLUMN traceparent text;
