-- Events (API 8): the audit trail with its hash chains, the webhook outbox
-- and the progress of the expiry notice scans.
--
-- audit_events: one row per event. body is the event's canonical JSON
-- (store/audit_json.h), the text its hash covers; the other columns repeat
-- what the audit query filters and sorts on, and `tokend audit verify` checks
-- that they say what body says. writer and seq place the event in its
-- writer's chain (one per instance and pooled connection): seq counts 1, 2,
-- 3... per writer, prev_hash is the hash of the writer's previous event (all
-- zeros for its first).
CREATE TABLE audit_events (
  id                text COLLATE "C" NOT NULL,
  writer            text COLLATE "C" NOT NULL,
  seq               bigint NOT NULL,
  time              bigint NOT NULL,  -- epoch milliseconds
  action            text COLLATE "C" NOT NULL,
  subject_id        text COLLATE "C" NOT NULL,
  subject_type      text COLLATE "C" NOT NULL,
  subject_principal text COLLATE "C",
  body              text NOT NULL,
  prev_hash         text COLLATE "C" NOT NULL,
  hash              text COLLATE "C" NOT NULL,
  -- Keyed by its place in its chain, which is how it is written and walked;
  -- ids are ObjectIds, unique by construction, and no route reads one event
  -- by id, so they need no index of their own (every index is paid by every
  -- create).
  PRIMARY KEY (writer, seq)
);
-- The audit query: newest (or oldest) first, unfiltered or under a token id,
-- a principal (a scoped caller's visibility, the principals filter); a
-- filter on types alone walks the time index (each index is paid by every
-- create). Retention deletes by time.
CREATE INDEX audit_events_by_time ON audit_events (time, id);
CREATE INDEX audit_events_by_subject ON audit_events (subject_id, time, id);
CREATE INDEX audit_events_by_principal ON audit_events (subject_principal, subject_type, time, id);

-- One row per writer's chain, written in the transaction of every event of
-- that writer: the first event still kept (after retention) and the hash it
-- links to, and the last event. So removing a chain's first or last events
-- by hand is found as surely as removing one in the middle.
CREATE TABLE audit_chains (
  writer          text COLLATE "C" NOT NULL PRIMARY KEY,
  first_seq       bigint NOT NULL,
  first_prev_hash text COLLATE "C" NOT NULL,
  last_seq        bigint NOT NULL,
  last_hash       text COLLATE "C" NOT NULL
);

-- Webhook deliveries waiting (API 8.2): one row per event and URL, written
-- with the event; removed once delivered, kept with failed = true when the
-- retries ran out. claimed_until: a delivery being tried by some instance,
-- not to be claimed again before then.
CREATE TABLE webhook_outbox (
  event_id        text COLLATE "C" NOT NULL,
  url             text COLLATE "C" NOT NULL,
  payload         text NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at bigint NOT NULL,  -- epoch milliseconds
  claimed_until   bigint,           -- epoch milliseconds
  failed          boolean NOT NULL DEFAULT false,
  queued_at       bigint NOT NULL,  -- epoch milliseconds
  last_error      text,
  PRIMARY KEY (event_id, url)
);
CREATE INDEX webhook_outbox_by_due ON webhook_outbox (failed, next_attempt_at);

-- Expiry notices (API 8.3): per threshold, the crossing times up to
-- done_until (epoch ms) have been scanned and notified. Advanced with a
-- compare-and-set, so that one instance only scans each window.
CREATE TABLE notice_progress (
  threshold_seconds bigint NOT NULL PRIMARY KEY,
  done_until        bigint NOT NULL
);

-- The subject of a token.reuse_detected event when a retired secret comes
-- back. Null in rows written before this version.
ALTER TABLE retired_secrets ADD COLUMN token_type text COLLATE "C";
ALTER TABLE retired_secrets ADD COLUMN principal text COLLATE "C";
ALTER TABLE retired_secrets ADD COLUMN name text COLLATE "C";

-- The notice scan reads tokens by expiration_date range: tokens_by_expiration
-- (0001) serves it.
