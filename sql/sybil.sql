-- Sybil economics (issue 20, docs/sybil.md), played.  Three honest providers
-- with an earned record (8 agreeing replicated jobs each: score 8) and a ring
-- of five fresh keys, each funded with 1000, compete for 30 tasks of 3
-- replicas at 1..10 per hour for one hour, each bid staking its whole ask
-- (collateral_ratio 1).  Bids are sealed: the honest providers ask 5.5..6.5,
-- the ring, to win seats, asks 2..6 with all five keys (5..6.5 where the
-- owner puts a floor of 5 under the price range).  Wherever ring keys
-- are seated they vote for a forged result.  The same random market (one
-- seed) is played under three sets of terms the owner may choose:
--   lowest_ask     the seed's allocation
--   reliability    ask / ((score + 1) / (score + 2)): a fresh key counts half
--   + min_reputation 1: keys without a record may not bid at all
-- and the test shows what the ring won (forged results accepted) and what it
-- lost (bonds slashed), and what the honest providers lost.
SET lagbid.clock = '2030-01-01 00:00:00+00';

CREATE FUNCTION pg_temp.play(game text, floor numeric) RETURNS TABLE (
    terms text, price_min numeric, tasks int, forged_accepted int, ring_seats int, ring_slashed numeric,
    ring_paid numeric, honest_slashed numeric, honest_paid numeric, ring_refused int)
LANGUAGE plpgsql AS $$
DECLARE
    k int;
    n int;
    t bigint;
    jb record;
    refused int := 0;
BEGIN
    PERFORM fresh_market();
    PERFORM setseed(0.2020);
    PERFORM lagbid.deposit('alice', 1000000, 'sybil-alice');
    -- honest providers 1..3 and ring keys 4..8 (node ids of 11..15), every one funded
    PERFORM cp(g, 'eu', '{}', 1000) FROM generate_series(1, 3) AS g;
    PERFORM cp(g, 'eu', '{}', 1000) FROM generate_series(11, 15) AS g;
    PERFORM lagbid.deposit(p.node_id, 1000, 'sybil-' || p.id, holder_kind => 'provider') FROM lagbid.provider p;
    -- the honest record: 8 replicated tasks, all three agreeing
    FOR k IN 1..8 LOOP
        t := lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3, replicas => 3);
        PERFORM lagbid.place_bid(t, g, 6) FROM generate_series(1, 3) AS g;
        PERFORM lagbid.upload_result(id, 'true result'::bytea) FROM lagbid.job WHERE task_id = t;
        PERFORM lagbid.finalize(t);
    END LOOP;

    FOR k IN 1..30 LOOP
        t := lagbid.publish_task('alice', '{}', floor, 10, 1, bid_limit => 8, replicas => 3, auto_allocate => false,
                                 collateral_ratio => 1, allocation => CASE WHEN game = 'lowest_ask' THEN 'lowest_ask' ELSE 'reliability' END,
                                 min_reputation => CASE WHEN game = 'reliability+min_reputation' THEN 1 END);
        PERFORM lagbid.place_bid(t, g, round((5.5 + random())::numeric, 2)) FROM generate_series(1, 3) AS g;
        FOR n IN 4..8 LOOP
            BEGIN
                PERFORM lagbid.place_bid(t, n, CASE WHEN floor > 1 THEN round((floor + 1.5 * random())::numeric, 2)
                                                    ELSE round((2 + 4 * random())::numeric, 2) END);
            EXCEPTION WHEN SQLSTATE 'LB404' THEN
                refused := refused + 1;
            END;
        END LOOP;
        PERFORM lagbid.allocate(t);
        FOR jb IN SELECT id, provider_id FROM lagbid.job WHERE task_id = t ORDER BY id LOOP
            PERFORM lagbid.upload_result(jb.id, CASE WHEN jb.provider_id > 3 THEN 'forged result' ELSE 'true result' END::bytea);
        END LOOP;
        PERFORM lagbid.finalize(t);
    END LOOP;

    RETURN QUERY
    WITH attack AS (SELECT t.id, t.leader_job_id FROM lagbid.task t WHERE t.collateral_ratio = 1),
         slashes AS (SELECT j.provider_id > 3 AS ring, sum(x.amount) AS amount
                       FROM lagbid.ledger_tx x JOIN lagbid.job j ON j.id = x.job_id
                      WHERE x.kind = 'slash' GROUP BY 1),
         pay AS (SELECT j.provider_id > 3 AS ring, sum(x.amount) AS amount
                   FROM lagbid.ledger_tx x JOIN lagbid.job j ON j.id = x.job_id JOIN attack a ON a.id = j.task_id
                  WHERE x.kind = 'payment' GROUP BY 1)
    SELECT game, floor, (SELECT count(*)::int FROM attack),
           (SELECT count(*)::int FROM attack a JOIN lagbid.job j ON j.id = a.leader_job_id WHERE j.provider_id > 3),
           (SELECT count(*)::int FROM lagbid.job j JOIN attack a ON a.id = j.task_id WHERE j.provider_id > 3),
           coalesce((SELECT amount FROM slashes WHERE ring), 0), coalesce((SELECT amount FROM pay WHERE ring), 0),
           coalesce((SELECT amount FROM slashes WHERE NOT ring), 0), coalesce((SELECT amount FROM pay WHERE NOT ring), 0),
           refused;
END $$;

CREATE TEMP TABLE played AS
SELECT * FROM pg_temp.play('lowest_ask', 1)
UNION ALL SELECT * FROM pg_temp.play('reliability', 1)
UNION ALL SELECT * FROM pg_temp.play('lowest_ask', 5)
UNION ALL SELECT * FROM pg_temp.play('reliability', 5)
UNION ALL SELECT * FROM pg_temp.play('reliability+min_reputation', 1);
SELECT * FROM played;
-- what each game shows (a rule the test would catch breaking):
-- 1. on the seed's terms a ring that underbids takes every seat and every vote
SELECT forged_accepted = tasks AND ring_seats = 3 * tasks AS cheap_ring_buys_every_vote
  FROM played WHERE terms = 'lowest_ask' AND price_min = 1;
-- 2. reliability seats a fresh key only below half the honest ask; a ring
--    that goes that low still wins, and its wins raise its score (+1 a key)
SELECT r.ring_seats < l.ring_seats AS reliability_seats_the_ring_less,
       r.forged_accepted > 0 AS but_a_ring_at_half_price_still_wins
  FROM played l, played r WHERE l.terms = 'lowest_ask' AND l.price_min = 1
                            AND r.terms = 'reliability' AND r.price_min = 1;
-- 3. with a price floor the ring cannot buy seats at half price: on lowest
--    ask it gets some seats, and where it sat in the minority it lost its bonds
SELECT forged_accepted < tasks AS the_ring_loses_some_votes, ring_slashed > 0 AS and_its_bonds_there
  FROM played WHERE terms = 'lowest_ask' AND price_min = 5;
--    and under reliability it gets no seat at all: nothing forged
SELECT ring_seats = 0 AND forged_accepted = 0 AS floor_and_reliability_keep_the_ring_out
  FROM played WHERE terms = 'reliability' AND price_min = 5;
-- 4. min_reputation: no fresh key may bid (150 refusals), nothing forged
SELECT forged_accepted = 0 AND ring_seats = 0 AND ring_refused = 150 AS min_reputation_keeps_the_ring_out
  FROM played WHERE terms = 'reliability+min_reputation';
-- an honest provider outvoted is slashed like anybody in the minority: what
-- the ring's wins cost the honest side is in honest_slashed
SELECT * FROM lagbid.check_invariants();
RESET lagbid.clock;
