-- Every SQL statement analytics runs, each under a name (loaded by queries.py).
--
-- Placeholders, filled by queries.render and nowhere else:
--   {hour:COLUMN}   whole UTC hours since 1970 of a timestamp column, in this dialect's SQL
--   {day:COLUMN}    whole UTC days since 1970 of a timestamp column
--   {channel:ALIAS} " AND ALIAS.channel = :channel" when a channel filter is given, else nothing
--   {human:ALIAS}   only events a person made (queries.HUMAN_EVENTS_SQL on ALIAS; now: all events)
--   {lo} {hi}       integers written into the text (PostgreSQL's CREATE TABLE AS takes no binds)
-- Bind parameters are typed by name in queries.py: :ids :live :reached :reported :sent :types
-- are lists (IN :ids), :now :at :since :until are timestamps.
--
-- Statements are listed in the order they run; tests/core/test_analytics_queries.py runs them
-- all in this order on SQLite and PostgreSQL.


-- The fold's watermark (rollup.refresh_rollups) ------------------------------------------

-- name: watermark-exists
SELECT 1 FROM analytics_watermark WHERE name = :n

-- name: watermark-create
INSERT INTO analytics_watermark (name, last_id) VALUES (:n, 0) ON CONFLICT (name) DO NOTHING

-- name: watermark-lock
-- The fold's first statement writes, so the lock is held for the whole fold.
UPDATE analytics_watermark SET refreshed_at = :now WHERE name = 'event'

-- name: event-max-id
SELECT coalesce(max(id), 0) FROM event

-- name: watermark-set-pending
UPDATE analytics_watermark SET pending_id = :p, pending_at = :at WHERE name = 'event'


-- The fold: events with lo < id <= hi into the hourly totals and first-seen uniques ---------

-- name: fold-campaigns-touched
SELECT DISTINCT campaign_id FROM event WHERE id > {lo} AND id <= {hi}

-- name: fold-hourly-totals
-- Human opens and clicks are counted twice: under their type and under type || '_human'.
INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total, uniq)
SELECT campaign_id, channel, type, {hour:created_at}, count(*), 0
FROM (SELECT campaign_id, channel, type, created_at FROM event
      WHERE id > {lo} AND id <= {hi} AND campaign_id IS NOT NULL AND type <> 'redeemed'
      UNION ALL
      SELECT campaign_id, channel, type || '_human', created_at FROM event
      WHERE id > {lo} AND id <= {hi} AND campaign_id IS NOT NULL
        AND type IN ('opened', 'clicked') AND NOT machine) e
WHERE 1 = 1
GROUP BY campaign_id, channel, type, {hour:created_at}
ON CONFLICT (campaign_id, channel, type, hour)
DO UPDATE SET total = campaign_stat_hourly.total + excluded.total

-- name: fold-first-reset
DROP TABLE IF EXISTS fold_first

-- name: fold-first-create
-- The batch's first hour per (delivery, type), next to the hour already folded (if any).
CREATE TEMP TABLE fold_first AS
SELECT delivery_id, type, min(campaign_id) AS campaign_id, min(channel) AS channel,
       min({hour:created_at}) AS hour, min(campaign_id) AS old_campaign_id,
       min(channel) AS old_channel, CAST(NULL AS bigint) AS old_hour
FROM (SELECT delivery_id, type, campaign_id, channel, created_at FROM event
      WHERE id > {lo} AND id <= {hi} AND campaign_id IS NOT NULL AND type <> 'redeemed'
        AND delivery_id IS NOT NULL
      UNION ALL
      SELECT delivery_id, type || '_human', campaign_id, channel, created_at FROM event
      WHERE id > {lo} AND id <= {hi} AND campaign_id IS NOT NULL AND delivery_id IS NOT NULL
        AND type IN ('opened', 'clicked') AND NOT machine) e
GROUP BY delivery_id, type

-- name: fold-first-analyze
-- PostgreSQL only: real row counts, so the lookups below use the primary key, not a full scan.
ANALYZE fold_first

-- name: fold-first-known-hours
UPDATE fold_first SET old_hour = f.hour, old_campaign_id = f.campaign_id, old_channel = f.channel
FROM delivery_first_event f
WHERE f.delivery_id = fold_first.delivery_id AND f.type = fold_first.type

-- name: fold-first-drop-counted
-- Deliveries already counted at an hour no later than this batch's: nothing changes.
DELETE FROM fold_first WHERE old_hour IS NOT NULL AND hour >= old_hour

-- name: fold-uniques-move-out
-- A delivery whose first event turns out earlier than folded before moves its unique.
UPDATE campaign_stat_hourly SET uniq = uniq - d.n
FROM (SELECT old_campaign_id, old_channel, type, old_hour, count(*) AS n
      FROM fold_first WHERE old_hour IS NOT NULL
      GROUP BY old_campaign_id, old_channel, type, old_hour) d
WHERE campaign_stat_hourly.campaign_id = d.old_campaign_id
  AND campaign_stat_hourly.channel = d.old_channel
  AND campaign_stat_hourly.type = d.type AND campaign_stat_hourly.hour = d.old_hour

-- name: fold-uniques-add
-- "WHERE 1 = 1": without a WHERE, SQLite would read ON CONFLICT as a join's ON (documented).
INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total, uniq)
SELECT campaign_id, channel, type, hour, 0, count(*) FROM fold_first WHERE 1 = 1
GROUP BY campaign_id, channel, type, hour
ON CONFLICT (campaign_id, channel, type, hour)
DO UPDATE SET uniq = campaign_stat_hourly.uniq + excluded.uniq

-- name: fold-first-record
INSERT INTO delivery_first_event (delivery_id, type, campaign_id, channel, hour)
SELECT delivery_id, type, campaign_id, channel, hour FROM fold_first WHERE 1 = 1
ON CONFLICT (delivery_id, type) DO UPDATE SET hour = excluded.hour

-- name: fold-first-drop
DROP TABLE fold_first

-- name: watermark-advance-events
UPDATE analytics_watermark SET last_id = :t WHERE name = 'event'


-- Clicks found machine after they were folded (a link burst, rollup.unfold_machine_clicks) --

-- name: unfold-lock
-- Taken after the clicks were flagged and held to the commit: no fold runs in between.
UPDATE analytics_watermark SET last_id = last_id WHERE name = 'event' RETURNING last_id

-- name: unfold-totals
UPDATE campaign_stat_hourly SET total = total - d.n
FROM (SELECT campaign_id, channel, {hour:created_at} AS hour, count(*) AS n FROM event
      WHERE id IN :ids AND id <= :folded AND type = 'clicked' AND campaign_id IS NOT NULL
      GROUP BY campaign_id, channel, {hour:created_at}) d
WHERE campaign_stat_hourly.campaign_id = d.campaign_id
  AND campaign_stat_hourly.channel = d.channel
  AND campaign_stat_hourly.type = 'clicked_human' AND campaign_stat_hourly.hour = d.hour

-- name: unfold-first-hours
-- Each affected delivery's first human click hour as folded, and what it is without the flagged.
SELECT f.delivery_id, f.campaign_id, f.channel, f.hour,
       (SELECT min({hour:e.created_at}) FROM event e
        WHERE e.delivery_id = f.delivery_id AND e.type = 'clicked' AND NOT e.machine
          AND e.id <= :folded)
FROM delivery_first_event f
WHERE f.type = 'clicked_human'
  AND f.delivery_id IN (SELECT delivery_id FROM event WHERE id IN :ids AND id <= :folded)

-- name: unfold-unique-out
UPDATE campaign_stat_hourly SET uniq = uniq - 1
WHERE campaign_id = :cid AND channel = :channel AND type = 'clicked_human' AND hour = :hour

-- name: unfold-unique-in
INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total, uniq)
VALUES (:cid, :channel, 'clicked_human', :hour, 0, 1)
ON CONFLICT (campaign_id, channel, type, hour) DO UPDATE SET uniq = campaign_stat_hourly.uniq + 1

-- name: unfold-first-move
UPDATE delivery_first_event SET hour = :hour WHERE delivery_id = :d AND type = 'clicked_human'

-- name: unfold-first-drop
DELETE FROM delivery_first_event WHERE delivery_id = :d AND type = 'clicked_human'


-- Tallies: delivery and coupon counts of the campaigns that changed -------------------------

-- name: redemption-max-id
SELECT coalesce(max(id), 0) FROM redemption

-- name: tally-campaigns-changed
-- Reported campaigns still live, edited since the last tally, never tallied (no marker row)
-- or with a redemption (or undo) after the last tally: newer than :last_rid, or among the last
-- 100 before it (:rid) and written since the tally (a row committed out of order).
SELECT c.id FROM campaign c
WHERE c.status IN :reported AND (
  c.status IN :live OR c.updated_at >= :since
  OR NOT EXISTS (SELECT 1 FROM campaign_tally t
                 WHERE t.campaign_id = c.id AND t.channel = '' AND t.metric = :marker)
  OR c.id IN (SELECT k.campaign_id FROM redemption r JOIN coupon k ON k.id = r.coupon_id
              WHERE r.id > :last_rid OR (r.id > :rid AND r.created_at >= :since)))

-- name: tally-clear
DELETE FROM campaign_tally WHERE campaign_id IN :ids

-- name: tally-clear-sent-series
DELETE FROM campaign_stat_hourly WHERE type = :series AND campaign_id IN :ids

-- name: tally-deliveries
-- The holdout group is tallied as 'delivery:held_out', apart from the skipped.
INSERT INTO campaign_tally (campaign_id, channel, metric, n)
SELECT d.campaign_id, d.channel,
       'delivery:' || CASE WHEN d.skip_reason = 'holdout' THEN 'held_out' ELSE d.status END,
       count(*)
FROM delivery d
WHERE d.campaign_id IN :ids
GROUP BY d.campaign_id, d.channel, CASE WHEN d.skip_reason = 'holdout' THEN 'held_out' ELSE d.status END

-- name: tally-coupons
INSERT INTO campaign_tally (campaign_id, channel, metric, n)
SELECT k.campaign_id, d.channel, 'coupon:' || k.status, count(*) FROM coupon k
JOIN delivery d ON d.id = k.delivery_id
WHERE k.campaign_id IN :ids GROUP BY k.campaign_id, d.channel, k.status

-- name: tally-sent-without-receipts
INSERT INTO campaign_tally (campaign_id, channel, metric, n)
SELECT d.campaign_id, d.channel, 'receipts:none', count(*) FROM delivery d
WHERE d.campaign_id IN :ids AND d.status IN :sent AND d.provider_message_id LIKE :no_receipts
GROUP BY d.campaign_id, d.channel

-- name: tally-marker
INSERT INTO campaign_tally (campaign_id, channel, metric, n)
SELECT c.id, '', :marker, 0 FROM campaign c WHERE c.id IN :ids

-- name: tally-sent-series
INSERT INTO campaign_stat_hourly (campaign_id, channel, type, hour, total, uniq)
SELECT d.campaign_id, d.channel, :series, {hour:d.sent_at}, count(*), count(*) FROM delivery d
WHERE d.campaign_id IN :ids AND d.status IN :sent AND d.sent_at IS NOT NULL
GROUP BY d.campaign_id, d.channel, {hour:d.sent_at}

-- name: watermark-mark-tally
UPDATE analytics_watermark SET refreshed_at = :now, last_id = :rid WHERE name = 'tally'


-- One campaign (reports.campaign_funnel, campaign_hourly, top_links) ------------------------

-- name: funnel-deliveries
-- The holdout group (skip_reason 'holdout') comes back as a status of its own, 'held_out'.
SELECT d.channel,
       CASE WHEN d.skip_reason = 'holdout' THEN 'held_out' ELSE d.status END AS status,
       count(*),
       sum(CASE WHEN d.provider_message_id LIKE :no_receipts THEN 1 ELSE 0 END),
       sum(CASE WHEN d.skip_reason = 'frequency_cap' THEN 1 ELSE 0 END)
FROM delivery d
WHERE d.campaign_id = :cid{channel:d}
GROUP BY d.channel, CASE WHEN d.skip_reason = 'holdout' THEN 'held_out' ELSE d.status END

-- name: funnel-events
SELECT s.channel, s.type, sum(s.total), sum(s.uniq) FROM campaign_stat_hourly s
WHERE s.campaign_id = :cid AND s.hour >= :lo AND s.hour < :hi{channel:s}
GROUP BY s.channel, s.type

-- name: funnel-coupons
-- Issued, and redeemed within the hour range, by the delivery's channel. The delivery's own
-- campaign_id (always the coupon's) lets the planner read the campaign's deliveries by index
-- rather than hash all of them.
SELECT d.channel, count(*),
       sum(CASE WHEN k.status = :redeemed AND {hour:k.redeemed_at} >= :lo
                AND {hour:k.redeemed_at} < :hi THEN 1 ELSE 0 END)
FROM coupon k JOIN delivery d ON d.id = k.delivery_id AND d.campaign_id = :cid
WHERE k.campaign_id = :cid{channel:d}
GROUP BY d.channel

-- name: funnel-failures
SELECT d.channel, d.status, d.error, count(*) AS n FROM delivery d
WHERE d.campaign_id = :cid AND d.status IN ('failed', 'bounced'){channel:d}
GROUP BY d.channel, d.status, d.error
ORDER BY n DESC, d.error
LIMIT 20

-- name: hourly-engagement
SELECT s.type, s.hour, sum(s.total) FROM campaign_stat_hourly s
WHERE s.campaign_id = :cid AND s.type IN :types
  AND s.hour >= :lo AND s.hour < :hi{channel:s}
GROUP BY s.type, s.hour

-- name: hourly-redemptions
SELECT {hour:k.redeemed_at} AS h, count(*) FROM coupon k
JOIN delivery d ON d.id = k.delivery_id AND d.campaign_id = :cid
WHERE k.campaign_id = :cid AND k.status = 'redeemed'
  AND {hour:k.redeemed_at} >= :lo AND {hour:k.redeemed_at} < :hi{channel:d}
GROUP BY {hour:k.redeemed_at}

-- name: top-links-version
-- The events folded so far, the newest event, and the campaign's folded clicks (all, people's):
-- with every event folded and these unchanged, top-links' answer is unchanged too (a click
-- re-flagged machine is taken out of the people's total by the unfold).
SELECT (SELECT w.last_id FROM analytics_watermark w WHERE w.name = 'event'),
       (SELECT max(e.id) FROM event e),
       (SELECT sum(CASE WHEN s.type = 'clicked' THEN s.total ELSE 0 END)
        FROM campaign_stat_hourly s
        WHERE s.campaign_id = :cid AND s.type IN ('clicked', 'clicked_human')),
       (SELECT sum(CASE WHEN s.type = 'clicked_human' THEN s.total ELSE 0 END)
        FROM campaign_stat_hourly s
        WHERE s.campaign_id = :cid AND s.type IN ('clicked', 'clicked_human'))

-- name: top-links
-- One index range scan of the campaign's click events; then its human clicks apart.
SELECT e.detail, count(*) AS n, count(DISTINCT e.delivery_id),
       sum(CASE WHEN e.machine THEN 0 ELSE 1 END) AS h,
       count(DISTINCT CASE WHEN e.machine THEN NULL ELSE e.delivery_id END)
FROM event e
WHERE e.campaign_id = :cid AND e.type = 'clicked'
  AND e.created_at >= :since AND e.created_at < :until{channel:e}
GROUP BY e.detail
ORDER BY h DESC, n DESC, e.detail
LIMIT :limit


-- The overview (reports.overview) --------------------------------------------------------

-- name: overview-campaigns
SELECT c.id, c.name, c.channel, c.sent_at FROM campaign c
WHERE c.status IN :reported AND c.sent_at IS NOT NULL
  AND c.sent_at >= :since AND c.sent_at < :until
ORDER BY c.sent_at DESC, c.id DESC

-- name: overview-tallies
SELECT t.campaign_id, t.channel, t.metric, sum(t.n) FROM campaign_tally t
WHERE t.campaign_id IN :ids AND t.channel <> ''{channel:t}
GROUP BY t.campaign_id, t.channel, t.metric

-- name: overview-engagement
SELECT s.campaign_id, s.type, sum(s.total), sum(s.uniq) FROM campaign_stat_hourly s
WHERE s.campaign_id IN :ids AND s.type IN :types AND s.hour >= :lo AND s.hour < :hi{channel:s}
GROUP BY s.campaign_id, s.type

-- name: trend-daily
SELECT s.type, s.hour / 24 AS d, sum(s.total) FROM campaign_stat_hourly s
WHERE s.type IN :types AND s.hour >= :lo AND s.hour < :hi{channel:s}
GROUP BY s.type, s.hour / 24

-- name: audience-before
SELECT count(*) FROM customer WHERE created_at < :since

-- name: audience-daily
SELECT {day:created_at} AS d, count(*) FROM customer
WHERE created_at >= :since AND created_at < :until
GROUP BY {day:created_at}

-- name: consent-daily
SELECT {day:e.created_at} AS d, e.channel,
       sum(CASE WHEN e.granted THEN 1 ELSE 0 END),
       sum(CASE WHEN e.granted THEN 0 ELSE 1 END)
FROM consent_event e
WHERE e.created_at >= :since AND e.created_at < :until{channel:e}
GROUP BY {day:e.created_at}, e.channel
ORDER BY d, e.channel


-- Revenue and message cost (revenue.py) --------------------------------------------------

-- name: revenue-redemptions
-- Redeemed coupons of each campaign and the ticket amounts recorded with them (in :currency;
-- amounts typed in another currency, before the Settings changed, are counted apart, not added).
SELECT k.campaign_id, count(*),
       sum(CASE WHEN v.currency = :currency THEN 1 ELSE 0 END),
       coalesce(sum(CASE WHEN v.currency = :currency THEN v.amount_minor ELSE 0 END), 0),
       sum(CASE WHEN v.amount_minor IS NOT NULL AND v.currency <> :currency THEN 1 ELSE 0 END)
FROM coupon k
JOIN delivery d ON d.id = k.delivery_id
LEFT JOIN visit v ON v.coupon_id = k.id
WHERE k.campaign_id IN :ids AND k.status = 'redeemed'{channel:d}
GROUP BY k.campaign_id

-- name: revenue-messages
-- Recipients, emails and SMS segments the providers accepted (a text sent before segments were
-- recorded counts as one).
SELECT d.campaign_id, count(DISTINCT d.customer_id),
       sum(CASE WHEN d.channel = 'email' THEN 1 ELSE 0 END),
       sum(CASE WHEN d.channel = 'sms' THEN coalesce(d.segments, 1) ELSE 0 END)
FROM delivery d
WHERE d.campaign_id IN :ids AND d.status IN :sent{channel:d}
GROUP BY d.campaign_id


-- Holdout lift (lift.py) -------------------------------------------------------------------

-- name: lift-groups
-- Per group of one campaign (held_out 1: the holdout group, 0: picked to be messaged, whether
-- or not the message arrived), over the customers' visits in [:since, :until): customers, those
-- with a visit, and the sum and sum of squares of visits and of ticket amounts (in :currency)
-- per customer, from which lift.py takes means, variances and intervals.
SELECT g.held_out, count(*),
       sum(CASE WHEN g.visits > 0 THEN 1 ELSE 0 END),
       coalesce(sum(g.visits), 0), coalesce(sum(g.visits * g.visits), 0),
       coalesce(sum(g.revenue), 0), coalesce(sum(g.revenue * g.revenue), 0)
FROM (
  SELECT r.customer_id, r.held_out, count(v.id) AS visits,
         coalesce(sum(CASE WHEN v.currency = :currency THEN v.amount_minor ELSE 0 END), 0)
           AS revenue
  FROM (
    SELECT d.customer_id, max(CASE WHEN d.skip_reason = 'holdout' THEN 1 ELSE 0 END) AS held_out
    FROM delivery d
    WHERE d.campaign_id = :cid AND (d.status <> 'skipped' OR d.skip_reason = 'holdout')
    GROUP BY d.customer_id
  ) r
  LEFT JOIN visit v ON v.customer_id = r.customer_id AND v.at >= :since AND v.at < :until
  GROUP BY r.customer_id, r.held_out
) g
GROUP BY g.held_out


-- A/B tests (ab.py) --------------------------------------------------------------------------

-- name: ab-variant-totals
-- Per variant of campaign :cid, over the test share (deliveries frozen before :until, the
-- decision): recipients reached, recipients who clicked (people only: {human:ALIAS}) and
-- recipients who redeemed their coupon. Counted per customer, so a customer sent on both
-- channels counts once.
SELECT v.id, v.label,
       count(DISTINCT x.customer_id),
       count(DISTINCT CASE WHEN x.clicked = 1 THEN x.customer_id END),
       count(DISTINCT CASE WHEN x.redeemed = 1 THEN x.customer_id END)
FROM campaign_variant v
LEFT JOIN (
  SELECT d.variant_id, d.customer_id,
         CASE WHEN EXISTS (SELECT 1 FROM event e WHERE e.delivery_id = d.id
                           AND e.type = 'clicked'{human:e}) THEN 1 ELSE 0 END AS clicked,
         CASE WHEN EXISTS (SELECT 1 FROM coupon k WHERE k.delivery_id = d.id
                           AND k.status = 'redeemed') THEN 1 ELSE 0 END AS redeemed
  FROM delivery d
  WHERE d.campaign_id = :cid AND d.variant_id IS NOT NULL AND d.created_at < :until
    AND d.status IN :reached
) x ON x.variant_id = v.id
WHERE v.campaign_id = :cid
GROUP BY v.id, v.label
ORDER BY v.label
