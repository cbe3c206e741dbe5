-- The W3C traceparent of the check that produced a status event, when tracing was on: the
-- outbox publishes it beside the event, so an event relayed after a crash or a Redis loss
-- still continues its check's trace. NULL when tracing was off.
ALTER TABLE status_events ADD COLUMN trace_context text;
