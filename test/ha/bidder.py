#!/usr/bin/python3
"""Bid load for the HA test (test/ha/run.sh).

    bidder.py DSN ACKED_FILE SECONDS [THREADS]

Each thread places bids through its own connection with lagbid.place_bid and
appends every bid the server acknowledged (the call returned a bid id, i.e.
its transaction committed) to ACKED_FILE as

    bid_id task_id provider_id price unix_time retried

DSN should name every node with target_session_attrs=read-write, so that after
a failover the client finds the new primary by itself.  A connection lost in
the middle of a call leaves that bid in doubt: the client reconnects and sends
the identical bid again (market rule 5: the same bid returns the same id), so
an in-doubt bid is acknowledged once, with retried = 1.  A refusal (an SQL
error) is counted by SQLSTATE and the next pair is tried.

At the end one JSON line of statistics goes to stdout.
"""
import json
import random
import sys
import threading
import time

import psycopg2

dsn, acked_path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 4
deadline = time.time() + seconds
RECONNECT_FOR = 90.0

lock = threading.Lock()
acked = open(acked_path, "a", buffering=1)
stats = {"acked": 0, "retried_acked": 0, "in_doubt": 0, "reconnects": 0,
         "refused": {}, "gave_up": 0, "first_ack": None, "last_ack": None,
         "max_gap_s": 0.0, "gap_from": None, "gap_to": None}
last_ack_time = [None]


def connect(until):
    while True:
        try:
            c = psycopg2.connect(dsn, connect_timeout=2)
            c.autocommit = True
            return c
        except psycopg2.OperationalError:
            if time.time() > until:
                raise
            time.sleep(0.2)


def record(bid, task, prov, price, retried):
    now = time.time()
    with lock:
        acked.write("%d %d %d %s %.3f %d\n" % (bid, task, prov, price, now, retried))
        stats["acked"] += 1
        stats["retried_acked"] += retried
        if stats["first_ack"] is None:
            stats["first_ack"] = now
        stats["last_ack"] = now
        if last_ack_time[0] is not None and now - last_ack_time[0] > stats["max_gap_s"]:
            stats["max_gap_s"] = round(now - last_ack_time[0], 3)
            stats["gap_from"], stats["gap_to"] = last_ack_time[0], now
        last_ack_time[0] = now


def worker(pairs):
    conn = connect(time.time() + RECONNECT_FOR)
    for task, prov in pairs:
        if time.time() > deadline:
            break
        price = 1 + (task * 31 + prov) % 9
        retried = 0
        while True:
            try:
                with conn.cursor() as cur:
                    cur.execute("SELECT lagbid.place_bid(task_id => %s, provider_id => %s, price => %s)",
                                (task, prov, price))
                    bid = cur.fetchone()[0]
                record(bid, task, prov, price, retried)
                break
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                # connection lost (the primary died): the bid is in doubt; find the
                # new primary and send the identical bid again
                with lock:
                    stats["in_doubt"] += 1
                    stats["reconnects"] += 1
                try:
                    conn.close()
                except Exception:
                    pass
                try:
                    conn = connect(time.time() + RECONNECT_FOR)
                except psycopg2.OperationalError:
                    with lock:
                        stats["gave_up"] += 1
                    return
                retried = 1
            except psycopg2.Error as e:
                with lock:
                    stats["refused"][e.pgcode] = stats["refused"].get(e.pgcode, 0) + 1
                break
    conn.close()


def main():
    conn = connect(time.time() + 10)
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM lagbid.task WHERE state = 'accepting_bids' ORDER BY id")
        tasks = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT id FROM lagbid.provider WHERE state = 'active' ORDER BY id")
        provs = [r[0] for r in cur.fetchall()]
    conn.close()
    pairs = [(t, p) for t in tasks for p in provs]
    random.Random(42).shuffle(pairs)
    ts = [threading.Thread(target=worker, args=(pairs[i::threads],)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    acked.close()
    print(json.dumps(stats))


main()
