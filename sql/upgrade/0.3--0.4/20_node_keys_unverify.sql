-- 0.3 -> 0.4, issue 19 defect 8: a provider that registered "verified" with
-- a small-order or non-canonical ed25519 key proved nothing (any signature
-- of such a key can be forged).  It keeps its registration and its login's
-- binding, but is no longer marked verified; registering again is refused
-- (LB010) until it comes back under a real key's peer id.
UPDATE lagbid.provider SET verified = false
 WHERE verified AND lagbid.node_key_problem(node_id) IS NOT NULL;
