-- the library and the install script agree on the version
SELECT lagbid.version() = (SELECT extversion FROM pg_extension WHERE extname = 'lagbid') AS version_matches;
-- the market clock: real time by default, a fixed time when lagbid.clock is set
SELECT lagbid.now() = now() AS clock_is_transaction_time;
SET lagbid.clock = '2030-01-01 12:00:00+00';
SELECT lagbid.now() AT TIME ZONE 'UTC' AS fixed_clock;
SET lagbid.clock = 'infinity';
SELECT lagbid.now();
RESET lagbid.clock;
-- the refusal table is complete and every SQLSTATE is in class LB
SELECT count(*) > 30 AS many_codes,
       bool_and(sqlstate ~ '^LB[0-9]{3}$') AS all_lb,
       count(DISTINCT sqlstate) = count(*) AS unique_codes,
       bool_and(http_status BETWEEN 400 AND 499) AS all_4xx
FROM lagbid.error_codes();
