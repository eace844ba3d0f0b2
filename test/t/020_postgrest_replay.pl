# PostgREST fidelity: every function of schema lagbid_api is called exactly
# the way PostgREST 12 calls it, from a NOINHERIT login "authenticator":
#
#   BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY     (GET, or a STABLE
#                                                       or IMMUTABLE function)
#   BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE    (POST of a VOLATILE one)
#   select set_config('search_path', '"lagbid_api"', true),
#          set_config('role', <JWT role>, true),
#          set_config('request.jwt.claims', <claims>, true),
#          set_config('request.method', ..., true), set_config('request.path', ..., true),
#          set_config('request.headers', ..., true), set_config('request.cookies', ..., true)
#   WITH pgrst_source AS (SELECT ... FROM (SELECT $1 AS json_data) pgrst_payload,
#          LATERAL (SELECT "a", ... FROM json_to_record(pgrst_payload.json_data)
#                   AS _("a" bigint, ...) LIMIT 1) pgrst_body ,
#          LATERAL "lagbid_api"."fn"("a" := pgrst_body."a", ...) pgrst_call)
#   SELECT null::bigint AS total_result_set, ... AS page_total,
#          coalesce(json_agg(_postgrest_t), '[]') AS body, ...    (per result kind)
#     FROM (SELECT "fn".* FROM "pgrst_source" AS "fn"    ) _postgrest_t
#   SET CONSTRAINTS ALL IMMEDIATE; ROLLBACK                   (Prefer: tx=rollback,
#                                                       so each call sees the same market)
#
# Modelled on PostgREST v12.2.12 (github.com/PostgREST/postgrest):
#   src/PostgREST/Query.hs              setPgLocals (the preamble and its order),
#                                       the transaction per plan (planTxMode)
#   src/PostgREST/Plan.hs               callReadPlan (txMode: GET is READ ONLY,
#                                       POST of a STABLE/IMMUTABLE function too),
#                                       findProc (which overload the keys select),
#                                       callPlan (only the keys sent become arguments)
#   src/PostgREST/Plan/CallPlan.hs      jsonRpcParams (GET: query string -> JSON of strings)
#   src/PostgREST/Query/QueryBuilder.hs callPlanToQuery, readPlanToQuery
#   src/PostgREST/Query/SqlFragment.hs  fromJsonBodyF, asJsonF, setConfigLocal,
#                                       responseHeadersF/responseStatusF
#   src/PostgREST/Query/Statements.hs   prepareCall (the outer SELECT)
#   src/PostgREST/SchemaCache.hs        funcsSqlQuery (argument names, types,
#                                       required = idx <= pronargs - pronargdefaults,
#                                       variadic, "callable", composite results)
#   src/PostgREST/Error.hs              pgErrorStatus (SQLSTATE -> HTTP status;
#                                       PGRST: message and detail are JSON)
#   src/PostgREST/Auth.hs               no JWT: role = db-anon-role, claims {"role": anon}
#
# The deployment kit contrib/postgrest/ drives this test, so that it cannot
# drift from what is tested: its authenticator.sql creates the login every
# request comes from; postgrest.conf gives the schema, the extra search
# path, the anonymous role, the authenticator (db-uri's user) and
# db-pre-request; mint-jwt.sh mints the claims of every request (checked
# against jwt-secret); and README.md holds a curl line for every function,
# whose method, token and arguments must select it.
#
# The functions are enumerated from pg_proc: a function without a sample
# below fails the test, named.  To add one: one line in %sample, e.g.
#     upload_result => [qw(provider n1), '{"job_id": 1, "content": "\\\\x6869"}'],
# (role: provider/owner/anon/platform; who: n1 n2 n3 alice bob carol, see the
# market below; the JSON body PostgREST receives for POST; GET sends the same
# keys as a query string).  The call must succeed on that market.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(decode_base64 encode_base64);

# ---------------------------------------------------------------------------
# The kit: postgrest.conf's settings
# ---------------------------------------------------------------------------
my $kit = 'contrib/postgrest';
my %conf;
{
	open my $fh, '<', "$kit/postgrest.conf" or die "$kit/postgrest.conf: $!";
	while (<$fh>)
	{
		next if /^\s*(#|$)/;
		/^([a-z-]+)\s*=\s*(?:"(.*)"|(\S+))\s*$/ or die "$kit/postgrest.conf: cannot read line $.: $_";
		$conf{$1} = defined $2 ? $2 : $3;
	}
}
is($conf{'db-schemas'}, 'lagbid_api', 'postgrest.conf: db-schemas = "lagbid_api"');
my ($authenticator) = ($conf{'db-uri'} // '') =~ m{^postgres(?:ql)?://([^:@/]+)};
ok(defined $authenticator, "postgrest.conf: db-uri names the authenticator login ($conf{'db-uri'})");
my $anon_role = $conf{'db-anon-role'};
ok(defined $anon_role && $anon_role ne '', "postgrest.conf: db-anon-role is $anon_role");
ok(length($conf{'jwt-secret'} // '') >= 32, 'postgrest.conf: jwt-secret has the 32 characters PostgREST requires');
is($conf{'jwt-role-claim-key'} // '.role', '.role', 'postgrest.conf: the role comes from the "role" claim mint-jwt.sh writes');
my $pre_request = $conf{'db-pre-request'} // '';
my @extra_search = grep { $_ ne '' } split /\s*,\s*/, ($conf{'db-extra-search-path'} // 'public');

# mint(role, sub): the claims of a token minted by the kit's script, after
# checking its HS256 signature against jwt-secret
sub b64url_decode { my $x = shift; $x =~ tr{-_}{+/}; $x .= '=' x ((4 - length($x) % 4) % 4); decode_base64($x) }
my %minted;
sub mint
{
	my ($role, $sub) = @_;
	return $minted{"$role $sub"} if $minted{"$role $sub"};
	my $tok = `LAGBID_JWT_SECRET= LAGBID_JWT_SECRET_FILE= LAGBID_POSTGREST_CONF=$kit/postgrest.conf sh $kit/mint-jwt.sh '$role' '$sub'`;
	chomp $tok;
	my ($h, $p, $sig) = split /\./, $tok;
	die "mint-jwt.sh $role $sub: no token ($tok)" unless defined $sig;
	my $want = encode_base64(hmac_sha256("$h.$p", $conf{'jwt-secret'}), '');
	$want =~ tr{+/}{-_}; $want =~ s/=+$//;
	die "mint-jwt.sh $role $sub: bad signature" unless $sig eq $want;
	my $claims = JSON::PP->new->decode(b64url_decode($p));
	die "mint-jwt.sh $role $sub: no exp" unless $claims->{exp} > time;
	return $minted{"$role $sub"} = $claims;
}

# ---------------------------------------------------------------------------
# One sample request per lagbid_api function: [role, who, JSON body].
# ---------------------------------------------------------------------------
my %sample = (
	acknowledge => [qw(provider n1), '{"ids": [1, 2]}'],
	allocate => [qw(owner alice), '{"task_id": 1}'],
	balance => [qw(owner alice), '{}'],
	cancel_task => [qw(owner alice), '{"task_id": 1, "reason": "changed my mind"}'],
	close_bidding => [qw(owner alice), '{"task_id": 1}'],
	create_space => [qw(owner alice), '{"name": "app2", "resources": {"cpu": 1}, "price_min": 1, "price_max": 2, "hours": 1}'],
	eligible_providers => [qw(owner alice), '{"task_id": 1}'],
	extend_space => [qw(owner alice), '{"space_id": 1, "hours": 1}'],
	fail_job => [qw(provider n1), '{"job_id": 1, "reason": "disk full"}'],
	finalize => [qw(owner alice), '{"task_id": 5}'],
	market_stats => [qw(anon -), '{}'],
	my_bids => [qw(provider n1), '{}'],
	my_jobs => [qw(provider n1), '{}'],
	my_leases => [qw(provider n1), '{}'],
	my_probes => [qw(provider n1), '{}'],
	my_profile => [qw(provider n1), '{}'],
	my_spaces => [qw(owner alice), '{}'],
	my_tasks => [qw(owner alice), '{}'],
	notifications => [qw(provider n1), '{"pending_only": false, "max_rows": 10}'],
	open_bidding => [qw(owner alice), '{"task_id": 4}'],
	open_tasks => [qw(provider n1), '{"max_rows": 10}'],
	place_bid => [qw(provider n1), '{"task_id": 2, "price": 5}'],
	probe_my_lease => [qw(owner alice), '{"space_id": 2}'],
	provider_profile => [qw(anon -), '{"node_id": "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"}'],
	publish_task => [qw(owner alice), '{"resources": {"cpu": 2}, "price_min": 1, "price_max": 2, "duration_hours": 1, "region": "eu", "bidding_window": "5 minutes"}'],
	registration_challenge => [qw(provider n1), '{"multiaddrs": ["/ip4/10.0.0.1/tcp/4001"]}'],
	report_endpoint => [qw(provider n1), '{"job_id": 4, "url": "http://10.0.0.1:8480/l/xe5ibwtw4cpssr77/"}'],
	report_probe => [qw(owner alice), '{"probe_id": 1, "ok": false, "http_status": 503, "latency_ms": 12}'],
	report_teardown => [qw(provider n1), '{"job_id": 5}'],
	register_provider => [qw(provider n3), '{"multiaddrs": ["/ip4/10.0.0.3/tcp/4001"], "region": "eu", "resources": {"cpu": 4}, "max_concurrent": 2}'],
	set_bid_limit => [qw(provider n1), '{"max_concurrent": 3}'],
	space_status => [qw(owner alice), '{"space_id": 2}'],
	submit_result => [qw(provider n1), '{"job_id": 1, "result_uri": "s3://bucket/r1", "result_hash": "sha256:ab"}'],
	task_bids => [qw(owner alice), '{"task_id": 1}'],
	task_jobs => [qw(owner alice), '{"task_id": 5}'],
	task_result => [qw(owner alice), '{"task_id": 7}'],
	task_workload => [qw(provider n1), '{"task_id": 2}'],
	trigger_space => [qw(owner alice), '{"space_id": 1}'],
	upload_result => [qw(provider n1), '{"job_id": 1, "content": "\\\\x6869"}'],
	update_space => [qw(owner alice), '{"space_id": 1, "price_max": 3}'],
	why_not => [qw(provider n2), '{"task_id": 1}'],
	withdraw_bid => [qw(provider n1), '{"bid_id": 1}'],
);

# Refusals through the same path: [function, role, who, method, body, want]
# where want is "<status> <code>" for a lagbid refusal in PGRST form (the
# status is also checked against lagbid.error_codes()), or a plain SQLSTATE
# with the status PostgREST's Error.hs gives it.
my @refusal = (
	[qw(set_bid_limit provider n1 POST), '{"max_concurrent": 0}', '400 LB001'],
	[qw(place_bid provider n1 POST), '{"task_id": 2, "price": "NaN"}', '400 LB001'],
	[qw(why_not provider -nosub GET), '{"task_id": 1}', '401 LB101'],
	[qw(my_tasks owner -nosub GET), '{}', '401 LB101'],
	[qw(close_bidding owner bob POST), '{"task_id": 1}', '403 LB102'],
	[qw(eligible_providers owner bob GET), '{"task_id": 1}', '403 LB102'],
	[qw(task_jobs owner bob GET), '{"task_id": 5}', '403 LB102'],
	[qw(task_jobs provider n2 GET), '{"task_id": 5}', '42501'],
	[qw(withdraw_bid provider n2 POST), '{"bid_id": 1}', '403 LB103'],
	[qw(update_space owner bob POST), '{"space_id": 1, "price_max": 3}', '403 LB104'],
	[qw(place_bid provider n1 POST), '{"task_id": 99, "price": 5}', '404 LB201'],
	[qw(eligible_providers owner alice GET), '{"task_id": 99}', '404 LB201'],
	[qw(withdraw_bid provider n1 POST), '{"bid_id": 99}', '404 LB202'],
	[qw(fail_job provider n1 POST), '{"job_id": 99, "reason": "x"}', '404 LB203'],
	[qw(why_not provider n3 GET), '{"task_id": 1}', '404 LB204'],
	[qw(task_workload provider n1 GET), '{"task_id": 4}', '403 LB322'],
	[qw(publish_task owner alice POST), '{"resources": {}, "price_min": 1, "price_max": 2, "duration_hours": 1, "workload": {"command": ["echo", "a workload longer than the owner cap of 64 bytes"]}}', '429 LB320'],
	[qw(open_tasks provider n1 POST), '{"task_ids": [' . join(', ', 1 .. 1001) . ']}', '413 LB007'],
	[qw(close_bidding owner alice POST), '{"task_id": 3}', '409 LB302'],
	[qw(place_bid provider n1 POST), '{"task_id": 1, "price": 6}', '409 LB305'],
	[qw(create_space owner alice POST), '{"name": "app", "resources": {}, "price_min": 1, "price_max": 2, "hours": 1}', '409 LB315'],
	[qw(place_bid provider n1 POST), '{"task_id": 2, "price": 50}', '422 LB401'],
	[qw(place_bid provider n2 POST), '{"task_id": 6, "price": 5}', '422 LB402'],
	[qw(place_bid provider n1 POST), '{"task_id": 9, "price": 5}', '422 LB404'],
	[qw(place_bid provider n2 POST), '{"task_id": 8, "price": 5}', '402 LB502'],
	# service spaces (issue 21): a URL elsewhere, another's probe, no live lease, a result of a service
	[qw(report_endpoint provider n1 POST), '{"job_id": 4, "url": "http://10.0.0.9/l/xe5ibwtw4cpssr77/"}', '403 LB604'],
	[qw(report_endpoint provider n1 POST), '{"job_id": 4, "url": "ftp://10.0.0.1/"}', '400 LB603'],
	[qw(report_endpoint provider n2 POST), '{"job_id": 4, "url": "http://10.0.0.1/l/xe5ibwtw4cpssr77/"}', '403 LB103'],
	[qw(report_probe owner bob POST), '{"probe_id": 1, "ok": false}', '403 LB608'],
	[qw(report_probe owner alice POST), '{"probe_id": 1, "ok": true, "http_status": 200, "signature": "AAAA"}', '403 LB611'],
	[qw(report_teardown provider n1 POST), '{"job_id": 4}', '409 LB606'],
	[qw(probe_my_lease owner alice POST), '{"space_id": 1}', '409 LB612'],
	[qw(submit_result provider n1 POST), '{"job_id": 4, "result_uri": "s3://b/r", "result_hash": "sha256:ab"}', '409 LB614'],
	[qw(provider_profile anon - GET), '{"node_id": "12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE"}', '404 LB204'],
	[qw(publish_task owner carol POST), '{"resources": {}, "price_min": 1, "price_max": 2, "duration_hours": 1}', '402 LB501'],
	# PostgreSQL's own refusals: no privilege (anonymous: 401), a write in a GET (405)
	[qw(place_bid anon - POST), '{"task_id": 2, "price": 5}', '42501'],
	[qw(place_bid provider n1 GET), '{"task_id": 2, "price": 5}', '25006'],
	# a body json_to_record cannot convert: PostgreSQL's class 22, a 400 (never a 500)
	[qw(why_not provider n1 GET), '{"task_id": "abc"}', '22P02'],
	[qw(place_bid provider n1 POST), '{"task_id": 1e30, "price": 5}', '22003'],
);
my %pg_status = ('42501' => 401, '25006' => 405, '22P02' => 400, '22003' => 400);

my $node = PostgreSQL::Test::Cluster->new('postgrest');
$node->init;
$node->start;

# PostgREST's login, as the kit creates it (contrib/postgrest/authenticator.sql)
$node->safe_psql('postgres', 'CREATE EXTENSION lagbid');
{
	my ($out, $err) = ('', '');
	my $rc = $node->psql('postgres', undef, stdout => \$out, stderr => \$err,
		extra_params => [ '-v', 'authenticator_password=replay-only', '-f', "$kit/authenticator.sql" ]);
	is($rc, 0, "$kit/authenticator.sql runs" . ($err ? ": $err" : ''));
	$rc = $node->psql('postgres', undef, stdout => \$out, stderr => \$err,
		extra_params => [ '-v', 'authenticator_password=replay-only', '-f', "$kit/authenticator.sql" ]);
	is($rc, 0, "$kit/authenticator.sql runs again (idempotent)");
	is($node->safe_psql('postgres', "SELECT rolcanlogin AND NOT rolinherit AND NOT rolsuper FROM pg_roles WHERE rolname = '$authenticator'"),
		't', "the kit's login $authenticator is a NOINHERIT login, no superuser");
	is($node->safe_psql('postgres', "SELECT string_agg(b.rolname, ',' ORDER BY b.rolname) FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = '$authenticator'::regrole"),
		'lagbid_anon,lagbid_owner,lagbid_platform,lagbid_provider', "$authenticator may become each API role and nothing else");
}
# one owner's live workload bytes: small, for the LB320 refusal below
$node->safe_psql('postgres', 'ALTER DATABASE postgres SET lagbid.max_workload_bytes_per_owner = 64');
# lease names hash the market's name: fixed, so that the samples can name one
$node->safe_psql('postgres', "ALTER DATABASE postgres SET lagbid.market_name = 'replay'");

# the market every sample call runs against (each call is rolled back)
# (tasks 8 and 9, at the end, are issue 20's: collateral and min_reputation)
my %who = (
	n1 => '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
	n2 => 'QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N',
	n3 => '12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE',
	alice => 'alice', bob => 'bob', carol => 'carol', platform => 'platform');
$node->safe_psql('postgres', qq{
SELECT lagbid.deposit('alice', 1000, 'replay-a'), lagbid.deposit('bob', 1000, 'replay-b');
SELECT lagbid.register_provider('$who{n1}', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu-west', '{"cpu": 8}', 5),
       lagbid.register_provider('$who{n2}', ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu-west', '{"cpu": 8}', 5);
-- 1: alice, open, bids of p1 (4) and p2 (6)    2: bob, open
-- 3: alice, p1 won it: job 1 processing        4: alice, never opened
-- 5: alice, p2 won it and submitted: job 2     6: alice, open in us
-- 7: alice, p1 won it, uploaded its result (job 3) and was elected
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, auto_allocate => false);
SELECT lagbid.publish_task('bob', '{}', 1, 10, 1, bid_limit => 5);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, open => false);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, region => 'us');
SELECT lagbid.place_bid(1, 1, 4), lagbid.place_bid(1, 2, 6), lagbid.place_bid(3, 1, 5), lagbid.place_bid(5, 2, 5);
SELECT lagbid.submit_result(2, 's3://bucket/r2', 'sha256:cd');
SELECT lagbid.create_space('alice', 'app', '{}', 1, 2, 3);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1);
SELECT lagbid.place_bid(7, 1, 5);
SELECT lagbid.upload_result(3, 'the leader''s output');
SELECT lagbid.finalize(7);
-- 8: alice, open, each bid stakes its whole ask (n1 holds 20, n2 nothing)
-- 9: alice, open to providers scoring 5 or more (nobody yet)
SELECT lagbid.deposit('$who{n1}', 20, 'replay-n1', holder_kind => 'provider');
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, collateral_ratio => 1);
SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 5, min_reputation => 5);
-- space 2: alice's service, task 10, n1's lease of job 4 (xe5ibwtw4cpssr77) ready, probe 1 alice's
-- 11: bob's service, n1 gave its job 5 up while it started: lease failed
SELECT lagbid.create_space('alice', 'svc', '{}', 1, 2, 3, kind => 'service',
                           workload => '{"command": ["app"], "service": {"port": 80}}');
SELECT lagbid.trigger_space(2);
SELECT lagbid.place_bid(10, 1, 1);
SELECT lagbid.close_bidding(10);
SELECT lagbid.report_endpoint(4, 'http://10.0.0.1/l/' || lagbid.lease_name(4) || '/');
SELECT lagbid.probe_my_lease(2);
SELECT lagbid.publish_task('bob', '{}', 1, 2, 1, kind => 'service', workload => '{"command": ["app"], "service": {"port": 80}}');
SELECT lagbid.place_bid(11, 1, 1);
SELECT lagbid.close_bidding(11);
SELECT lagbid.fail_job(5, 'image missing');
});

# ---------------------------------------------------------------------------
# What PostgREST's schema cache knows of each function, and the statement
# it builds, written in SQL over pg_proc (SchemaCache.hs, Plan.hs,
# QueryBuilder.hs, SqlFragment.hs, Statements.hs).
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', <<'SQL');
CREATE SCHEMA pgrst;
-- funcsSqlQuery: the input arguments (name, type with lengths dropped,
-- required, variadic) of each routine, and whether PostgREST can call it
CREATE VIEW pgrst.routine AS
WITH arguments AS (
    SELECT oid,
           array_agg(coalesce(name, '') ORDER BY idx) AS names,
           array_agg(CASE type WHEN 'bit'::regtype THEN 'bit varying'
                               WHEN 'bit[]'::regtype THEN 'bit varying[]'
                               WHEN 'character'::regtype THEN 'character varying'
                               WHEN 'character[]'::regtype THEN 'character varying[]'
                               ELSE type::regtype::text END ORDER BY idx) AS types,
           array_agg(idx <= (pronargs - pronargdefaults) ORDER BY idx) AS required,
           array_agg(coalesce(mode = 'v', false) ORDER BY idx) AS variadic,
           CASE count(*) - count(name)
               WHEN 0 THEN true
               WHEN 1 THEN (array_agg(type))[1] IN ('bytea'::regtype, 'json'::regtype, 'jsonb'::regtype,
                                                   'text'::regtype, 'xml'::regtype)
               ELSE false END AS callable
      FROM pg_proc, unnest(proargnames, proargtypes, proargmodes) WITH ORDINALITY AS _(name, type, mode, idx)
     WHERE type IS NOT NULL
     GROUP BY oid)
SELECT p.oid, p.proname AS name,
       coalesce(a.names, '{}') AS names, coalesce(a.types, '{}') AS types,
       coalesce(a.required, '{}') AS required, coalesce(a.variadic, '{}') AS variadic,
       coalesce(a.callable, true) AS callable,
       p.proretset AS setof,
       (t.typtype = 'c' OR coalesce(p.proargmodes::text[] && '{t,b,o}', false)) AS composite,
       coalesce(comp.relname, t.typname) AS rel_name,
       p.provolatile AS volatility,
       (SELECT array_agg(s)
          FROM unnest(p.proconfig) s
         WHERE s ~ ANY (ARRAY['statement_timeout', 'plan_filter.statement_cost_limit',
                              'default_transaction_isolation'])) AS hoisted,
       (SELECT array_agg(name ORDER BY ord)
          FROM unnest(p.proargnames, p.proargmodes) WITH ORDINALITY AS o(name, mode, ord)
         WHERE mode IN ('t', 'o', 'b')) AS out_names
  FROM pg_proc p
  JOIN pg_type t0 ON t0.oid = p.prorettype
  JOIN pg_type t ON t.oid = CASE WHEN t0.typtype = 'd' THEN t0.typbasetype ELSE t0.oid END
  LEFT JOIN pg_class comp ON comp.oid = t.typrelid
  LEFT JOIN arguments a ON a.oid = p.oid
 WHERE p.pronamespace = 'lagbid_api'::regnamespace AND p.prokind = 'f' AND t.oid <> 'trigger'::regtype;

-- escapeIdent: PostgREST quotes every identifier
CREATE FUNCTION pgrst.ident(x text) RETURNS text LANGUAGE sql IMMUTABLE
    RETURN '"' || replace(x, '"', '""') || '"';

-- findProc: the routines named fn whose parameters the keys select
CREATE FUNCTION pgrst.find(fn text, keys text[]) RETURNS SETOF pgrst.routine LANGUAGE sql AS $$
    SELECT r.* FROM pgrst.routine r
     WHERE r.name = fn AND r.callable
       AND CASE WHEN cardinality(r.names) = 0 THEN cardinality(keys) = 0
                ELSE (SELECT coalesce(array_agg(k ORDER BY k), '{}') FROM unnest(keys) k
                       WHERE k <> ALL (SELECT n FROM unnest(r.names, r.required) x(n, q) WHERE NOT q))
                   = (SELECT coalesce(array_agg(n ORDER BY n), '{}') FROM unnest(r.names, r.required) x(n, q) WHERE q)
           END
$$;

-- the whole request: returns the statements to send, in order, or an error
-- "PGRST202 ..." / "PGRST203 ..." when PostgREST would answer without
-- reaching the database (no such function for these keys / ambiguous)
CREATE FUNCTION pgrst.request(fn text, method text, db_role text, claims text, body jsonb,
                              search_path text, pre_request text)
    RETURNS text[] LANGUAGE plpgsql AS $$
DECLARE
    keys text[] := ARRAY(SELECT jsonb_object_keys(body) ORDER BY 1);
    r pgrst.routine;
    n int;
    args text;                  -- the JSON PostgREST binds as $1
    read_only boolean;
    scalar boolean;
    prms text := '';
    typed text := '';
    call_args text := '';
    callit text;
    call_sql text;
    iso text := 'READ COMMITTED';
    preamble text;
    i int;
BEGIN
    SELECT count(*) INTO n FROM pgrst.find(fn, keys);
    IF n = 0 THEN
        RETURN ARRAY['PGRST202 Could not find the function lagbid_api.' || fn || '(' || array_to_string(keys, ', ') || ') in the schema cache'];
    ELSIF n > 1 THEN
        RETURN ARRAY['PGRST203 Could not choose the best candidate function between ' || n || ' overloads of lagbid_api.' || fn];
    END IF;
    SELECT * INTO r FROM pgrst.find(fn, keys);

    -- GET: the query string, as JSON strings (jsonRpcParams); POST: the body as sent
    IF method = 'GET' THEN
        SELECT '{' || coalesce(string_agg(to_json(key)::text || ':' || to_json(CASE jsonb_typeof(value)
                   WHEN 'array' THEN '{' || (SELECT string_agg(CASE jsonb_typeof(e) WHEN 'string' THEN e #>> '{}' ELSE e::text END, ',')
                                               FROM jsonb_array_elements(value) e) || '}'
                   WHEN 'string' THEN value #>> '{}'
                   ELSE value::text END)::text, ','), '') || '}'
          INTO args FROM jsonb_each(body);
    ELSE
        args := body::text;
    END IF;
    read_only := method = 'GET' OR r.volatility IN ('s', 'i');
    scalar := NOT r.composite;

    -- callPlanToQuery: only the parameters named by the keys, in declared order
    FOR i IN 1 .. cardinality(r.names) LOOP
        CONTINUE WHEN NOT r.names[i] = ANY (keys);
        IF prms <> '' THEN
            prms := prms || ', '; typed := typed || ', '; call_args := call_args || ', ';
        END IF;
        prms := prms || pgrst.ident(r.names[i]);
        typed := typed || pgrst.ident(r.names[i]) || ' ' || r.types[i];
        call_args := call_args || CASE WHEN r.variadic[i] THEN 'VARIADIC ' ELSE '' END
                     || pgrst.ident(r.names[i]) || ' := pgrst_body.' || pgrst.ident(r.names[i]);
    END LOOP;
    callit := pgrst.ident('lagbid_api') || '.' || pgrst.ident(r.name) || '(' || call_args || ')';
    callit := CASE WHEN scalar THEN 'SELECT ' || callit || ' pgrst_scalar) pgrst_call'
                   ELSE callit || ' pgrst_call' END;
    IF scalar THEN
        callit := '(' || callit;
    END IF;
    IF prms = '' THEN
        call_sql := 'FROM ' || callit;
    ELSE
        call_sql := 'FROM (SELECT ' || quote_literal(args) || '::json AS json_data) pgrst_payload, '
            || 'LATERAL (SELECT ' || prms || ' FROM '
            || CASE WHEN ltrim(args, E' \t\n\r') LIKE '{%' THEN 'json_to_record' ELSE 'json_to_recordset' END
            || '(pgrst_payload.json_data) AS _(' || typed || ') LIMIT 1) pgrst_body , LATERAL ' || callit;
    END IF;
    call_sql := 'SELECT ' || CASE WHEN scalar THEN 'pgrst_call.pgrst_scalar' ELSE '"pgrst_call".*' END
        || ' ' || call_sql;

    -- setPgLocals, in its order; the function's hoisted settings last
    preamble := 'select ' || concat_ws(', ',
        format('set_config(''search_path'', %L, true)', search_path),
        format('set_config(''role'', %L, true)', db_role),
        format('set_config(''request.jwt.claims'', %L, true)', claims),
        format('set_config(''request.method'', %L, true)', method),
        format('set_config(''request.path'', %L, true)', '/rpc/' || fn),
        format('set_config(''request.headers'', %L, true)',
               '{"accept":"application/json","content-type":"application/json","host":"localhost:3000","user-agent":"replay"}'),
        format('set_config(''request.cookies'', %L, true)', '{}'),
        (SELECT string_agg(format('set_config(%L, %L, true)', split_part(h, '=', 1),
                                  substr(h, strpos(h, '=') + 1)), ', ')
           FROM unnest(r.hoisted) AS h));
    iso := coalesce(upper((SELECT substr(h, strpos(h, '=') + 1) FROM unnest(r.hoisted) h
                            WHERE split_part(h, '=', 1) = 'default_transaction_isolation' LIMIT 1)), iso);

    -- db-pre-request, when set, runs after the preamble (Query.hs: preReqSql)
    IF coalesce(pre_request, '') <> '' THEN
        preamble := preamble || '; select ' || pre_request || '()';
    END IF;
    RETURN ARRAY[
        format('BEGIN ISOLATION LEVEL %s %s', iso, CASE WHEN read_only THEN 'READ ONLY' ELSE 'READ WRITE' END),
        preamble,
        -- prepareCall
        'WITH pgrst_source AS (' || call_sql || ') '
        || 'SELECT null::bigint AS total_result_set, '
        || CASE WHEN NOT r.setof THEN '1' ELSE 'pg_catalog.count(_postgrest_t)' END || ' AS page_total, '
        || CASE WHEN NOT r.setof AND r.composite THEN 'coalesce(json_agg(_postgrest_t)->0, ''null'')'
                WHEN NOT r.setof THEN 'coalesce(json_agg(_postgrest_t.pgrst_scalar)->0, ''null'')'
                WHEN scalar THEN 'coalesce(json_agg(_postgrest_t.pgrst_scalar), ''[]'')'
                ELSE 'coalesce(json_agg(_postgrest_t), ''[]'')' END || ' AS body, '
        || 'nullif(current_setting(''response.headers'', true), '''') AS response_headers, '
        || 'nullif(current_setting(''response.status'', true), '''') AS response_status, '
        || ''''' AS response_inserted '
        || 'FROM (SELECT ' || pgrst.ident(CASE WHEN r.composite THEN r.rel_name ELSE r.name END) || '.* FROM "pgrst_source" AS '
        || pgrst.ident(CASE WHEN r.composite THEN r.rel_name ELSE r.name END) || '    ) _postgrest_t',
        'SET CONSTRAINTS ALL IMMEDIATE',
        'ROLLBACK'];
END $$;
SQL

my %http = map { split /\|/ } split /\n/,
  $node->safe_psql('postgres', q{SELECT sqlstate || '|' || http_status FROM lagbid.error_codes()});

# send(fn, role, who, method, body): the request's statements from the
# authenticator; returns (exit code, body or undef, sqlstate, message, detail)
sub send_request
{
	my ($fn, $role, $who, $method, $body) = @_;
	my $db_role = $role eq 'anon' ? $anon_role : "lagbid_$role";
	# a token minted by the kit; without one (anon) PostgREST's claims are {"role": anon}
	my %claims = ($who ne '-' && $who ne '-nosub') ? %{ mint($db_role, $who{$who}) } : (role => $db_role);
	my $json = JSON::PP->new->canonical;
	my $search_path = join ', ', map { '"' . s/"/""/gr . '"' } $conf{'db-schemas'}, @extra_search;
	my $stmts = $node->safe_psql('postgres',
		sprintf(q{SELECT array_to_string(pgrst.request(%s, %s, %s, %s, %s::jsonb, %s, %s), E'\x1e')},
			map { "'" . s/'/''/gr . "'" } $fn, $method, $db_role, $json->encode(\%claims), $body,
			$search_path, $pre_request));
	my @s = split /\x1e/, $stmts;
	return (undef, undef, substr($s[0], 0, 8), $s[0], '') if $s[0] =~ /^PGRST20/;
	my $script = "\\set VERBOSITY verbose\n\\pset fieldsep_zero on\n"
	  . "$s[0];\n$s[1] \\g /dev/null\n$s[2];\n$s[3];\n$s[4];\n";
	my ($out, $err) = ('', '');
	my $rc = $node->psql('postgres', $script, stdout => \$out, stderr => \$err,
		on_error_stop => 1, extra_params => [ '-U', $authenticator ]);
	if ($rc != 0)
	{
		my ($st, $msg) = $err =~ /ERROR:\s+([0-9A-Z]{5}): (.*)$/m;
		my ($det) = $err =~ /^DETAIL:\s+(.*)$/m;
		return ($rc, undef, $st // 'none', $msg // $err, $det // '', undef, $script);
	}
	my @col = split /\0/, $out, -1;
	return ($rc, $col[2], undef, undef, undef, $col[1], $script);
}

# ---------------------------------------------------------------------------
# every function, from the catalog
# ---------------------------------------------------------------------------
my @fns = split /\n/, $node->safe_psql('postgres',
	q{SELECT concat_ws('|', p.proname, p.provolatile, p.proretset,
	                 t.typtype = 'c' OR coalesce(p.proargmodes::text[] && '{t,b,o}', false),
	                 coalesce(array_to_string(r.out_names, ','), ''))
	    FROM pg_proc p JOIN pg_type t ON t.oid = p.prorettype
	    LEFT JOIN pgrst.routine r ON r.oid = p.oid
	   WHERE p.pronamespace = 'lagbid_api'::regnamespace ORDER BY 1});
ok(@fns >= 28, 'lagbid_api has its functions (' . scalar(@fns) . ')');

is($node->safe_psql('postgres', q{SELECT string_agg(proname, ', ') FROM (
	SELECT proname FROM pg_proc WHERE pronamespace = 'lagbid_api'::regnamespace
	 GROUP BY proname HAVING count(*) > 1) o}), '', 'no function of lagbid_api is overloaded');
is($node->safe_psql('postgres', q{SELECT string_agg(p.proname, ', ') FROM pg_proc p
	LEFT JOIN pgrst.routine r ON r.oid = p.oid
	WHERE p.pronamespace = 'lagbid_api'::regnamespace AND NOT coalesce(r.callable, false)}),
	'', 'PostgREST can call every function (named arguments, no trigger or aggregate)');

my %seen;
for my $line (@fns)
{
	my ($fn, $vol, $setof, $composite, $outs) = split /\|/, $line, -1;
	$seen{$fn} = 1;
	my $s = $sample{$fn};
	if (!$s)
	{
		fail("$fn: no sample request in test/t/020_postgrest_replay.pl (add one line to %sample)");
		next;
	}
	my ($role, $who, $body) = @$s;
	# a read function (STABLE/IMMUTABLE) is called by GET and by POST, both
	# in a READ ONLY transaction; a VOLATILE one by POST
	my @methods = $vol eq 'v' ? ('POST') : ('GET', 'POST');
	for my $method (@methods)
	{
		my ($rc, $out, $st, $msg, $det, $total, $script) = send_request($fn, $role, $who, $method, $body);
		if (!defined $out)
		{
			fail("$method /rpc/$fn as $role: $st $msg" . ($det ? " ($det)" : ''));
			diag($script) if $script;
			next;
		}
		my $v = eval { JSON::PP->new->allow_nonref->decode($out) };
		if (!defined $v && $@)
		{
			fail("$method /rpc/$fn: the body is not JSON: $out");
			next;
		}
		if ($setof eq 't')
		{
			ok(ref $v eq 'ARRAY' && scalar(@$v) == $total,
				"$method /rpc/$fn: a JSON array of page_total ($total) elements");
			if ($composite eq 't')
			{
				my $want = join ',', sort split /,/, $outs;
				my @bad = grep { ref $_ ne 'HASH' || join(',', sort keys %$_) ne $want } @$v;
				ok(!@bad, "$method /rpc/$fn: every element is an object of ($outs)");
			}
		}
		elsif ($composite eq 't')
		{
			ok(ref $v eq 'HASH', "$method /rpc/$fn: one JSON object");
		}
		else
		{
			ok(!ref $v, "$method /rpc/$fn: one JSON scalar ($out)");
		}
	}
}
for my $fn (sort keys %sample)
{
	ok($seen{$fn}, "sample $fn names a function of lagbid_api");
}

# ---------------------------------------------------------------------------
# the kit's curl lines (README.md): one per function, each selecting it
# with the right method and a token of a role that may call it
# ---------------------------------------------------------------------------
{
	my %curl;
	open my $fh, '<', "$kit/README.md" or die "$kit/README.md: $!";
	while (my $line = <$fh>)
	{
		next unless $line =~ m{^curl .*"\$API/rpc/(\w+)(?:\?([^"]*))?"};
		my ($fn, $query) = ($1, $2 // '');
		my ($tok) = $line =~ /Bearer \$(\w+)/;
		my ($data) = $line =~ / -d '(.*)'\s*$/;
		my $role = !defined $tok ? $anon_role : { OWNER => 'lagbid_owner', PROVIDER => 'lagbid_provider', PLATFORM => 'lagbid_platform' }->{$tok};
		my @keys = defined $data ? sort keys %{ decode_json($data) } : sort map { (split /=/)[0] } grep { $_ ne '' } split /&/, $query;
		my $method = defined $data ? 'POST' : 'GET';
		my $k = "{" . join(',', map { "\"$_\"" } @keys) . "}";
		my ($n, $vol, $may) = split /\|/, $node->safe_psql('postgres', sprintf(q{
			SELECT count(*), min(r.volatility), bool_and(has_function_privilege('%s', r.oid, 'EXECUTE'))
			  FROM pgrst.find('%s', '%s'::text[]) r}, $role // 'nobody', $fn, $k));
		ok($n == 1 && ($method eq 'POST' || $vol ne 'v') && $may eq 't',
			"$kit/README.md: curl $method /rpc/$fn as " . ($role // "\$$tok") . " (@keys) selects the function and may call it");
		$curl{$fn} = 1;
	}
	for my $fn (sort map { (split /\|/)[0] } @fns)
	{
		ok($curl{$fn}, "$kit/README.md has a curl example for /rpc/$fn");
	}
}

# the keys select the function exactly as findProc does: a missing required
# argument or an unknown key never reaches the database
{
	my @r = send_request('place_bid', 'provider', 'n1', 'POST', '{"task_id": 2}');
	is($r[2], 'PGRST202', 'a missing required argument: PGRST202 (404) before the database');
	@r = send_request('place_bid', 'provider', 'n1', 'POST', '{"task_id": 2, "price": 5, "provider_id": 1}');
	is($r[2], 'PGRST202', 'an unknown argument: PGRST202 (404)');
}

# an overload PostgREST cannot tell apart from the keys is caught (an
# upgrade that CREATE OR REPLACEs with an extra argument makes one)
$node->safe_psql('postgres', q{CREATE FUNCTION lagbid_api.why_not(task_id bigint, verbose boolean DEFAULT false)
	RETURNS TABLE (rule text, detail text) LANGUAGE sql AS 'SELECT NULL::text, NULL::text'});
{
	my @r = send_request('why_not', 'provider', 'n2', 'GET', '{"task_id": 1}');
	is($r[2], 'PGRST203', 'an overload selected by the same keys: PGRST203 (300), ambiguous');
	isnt($node->safe_psql('postgres', q{SELECT string_agg(proname, ', ') FROM (
		SELECT proname FROM pg_proc WHERE pronamespace = 'lagbid_api'::regnamespace
		 GROUP BY proname HAVING count(*) > 1) o}), '', 'and the overload check sees it');
}
$node->safe_psql('postgres', q{DROP FUNCTION lagbid_api.why_not(bigint, boolean)});

# ---------------------------------------------------------------------------
# refusals arrive in PostgREST form with the documented status
# ---------------------------------------------------------------------------
for my $c (@refusal)
{
	my ($fn, $role, $who, $method, $body, $want) = @$c;
	my ($rc, $out, $st, $msg, $det) = send_request($fn, $role, $who, $method, $body);
	my $what = "$method /rpc/$fn as $role $who $body";
	if ($want =~ /^(\d{3}) (LB\d{3})$/)
	{
		my ($status, $code) = ($1, $2);
		my $m = eval { decode_json($msg // '') } // {};
		my $d = eval { decode_json($det // '') } // {};
		is("$st $m->{code}", "PGRST $code", "$what: SQLSTATE PGRST carrying $code");
		is($d->{status}, $http{$code}, "$what: detail status is error_codes()'s $http{$code}");
		is($d->{status}, $status, "$what: HTTP $status");
		ok(defined $m->{message} && ref $d->{headers} eq 'HASH',
			"$what: message and headers as PostgREST parses them");
	}
	else
	{
		is($st, $want, "$what: SQLSTATE $want (PostgREST: $pg_status{$want})");
	}
}

# the market is as the fixture left it: every request was rolled back
is($node->safe_psql('postgres', 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'invariants hold');

$node->stop;
done_testing();
