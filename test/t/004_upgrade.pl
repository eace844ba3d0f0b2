# The upgrade paths: a database created at 0.1, 0.2 or 0.3 (the scripts as
# released, sql/upgrade/) and updated with ALTER EXTENSION lagbid UPDATE has
# exactly the catalog of a fresh install of the current version, and its
# market data comes through.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

# every object of the extension, as canonical text: tables and columns,
# constraints, indexes, triggers, functions (with their settings and
# privileges), views, policies, comments, table privileges, types
my $catalog = q{
SELECT string_agg(line, E'\n' ORDER BY line) FROM (
  SELECT 'col ' || c.relname || '.' || a.attnum || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' ' || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || a.attidentity::text
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace IN ('lagbid'::regnamespace, 'lagbid_api'::regnamespace) AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'rel ' || relname || ' ' || relkind::text || ' rls=' || relrowsecurity || ' acl=' || coalesce(relacl::text, '')
         || ' comment=' || coalesce(obj_description(oid, 'pg_class'), '')
    FROM pg_class WHERE relnamespace IN ('lagbid'::regnamespace, 'lagbid_api'::regnamespace)
  UNION ALL
  SELECT 'con ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'lagbid'::regnamespace
  UNION ALL
  SELECT 'idx ' || pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE c.relnamespace = 'lagbid'::regnamespace
  UNION ALL
  SELECT 'trg ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
   WHERE c.relnamespace = 'lagbid'::regnamespace AND NOT t.tgisinternal
  UNION ALL
  SELECT 'fn ' || pg_get_functiondef(p.oid) || ' acl=' || coalesce(p.proacl::text, '')
         || ' comment=' || coalesce(obj_description(p.oid, 'pg_proc'), '')
    FROM pg_proc p WHERE p.pronamespace IN ('lagbid'::regnamespace, 'lagbid_api'::regnamespace) AND p.prokind <> 'a'
  UNION ALL
  SELECT 'view ' || c.relname || ' ' || pg_get_viewdef(c.oid) FROM pg_class c
   WHERE c.relnamespace = 'lagbid'::regnamespace AND c.relkind = 'v'
  UNION ALL
  SELECT 'pol ' || tablename || ' ' || policyname || ' ' || cmd::text || ' ' || array_to_string(roles, ',') || ' ' || coalesce(qual, '')
    FROM pg_policies WHERE schemaname = 'lagbid'
  UNION ALL
  SELECT 'type ' || t.typname || ' ' || coalesce((SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder)
                                                     FROM pg_enum WHERE enumtypid = t.oid), '')
    FROM pg_type t WHERE t.typnamespace = 'lagbid'::regnamespace AND t.typtype = 'e'
  UNION ALL
  SELECT 'member ' || pg_describe_object(classid, objid, 0) FROM pg_depend
   WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'lagbid')
  UNION ALL
  SELECT 'dump ' || c::regclass::text FROM pg_extension e, unnest(e.extconfig) AS c WHERE e.extname = 'lagbid'
) AS lines(line)};

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION lagbid');
my $current = $node->safe_psql('fresh', q{SELECT extversion FROM pg_extension WHERE extname = 'lagbid'});

# a small market, made with the old version's functions (run by the new
# library, as after a package upgrade before ALTER EXTENSION UPDATE)
my ($p1, $p2) = ('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
	'12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE');
# task 1 processing (alice); task 2 completed: bob paid the escrow, provider
# p2 was paid 5 x 2 and bob refunded the rest; 3 deposited to p1's name
# (holders were untyped then: that was p1's account)
my $market = qq{
	SELECT lagbid.deposit('alice', 100, 'u-1');
	SELECT lagbid.register_provider('$p1', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}');
	SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1);
	SELECT lagbid.place_bid(1, 1, 4);
	SELECT lagbid.deposit('bob', 50, 'u-2');
	SELECT lagbid.register_provider('$p2', ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu', '{}');
	SELECT lagbid.publish_task('bob', '{}', 1, 10, 2, bid_limit => 1);
	SELECT lagbid.place_bid(2, 2, 5);
	SELECT lagbid.submit_result(2, 's3://out/2', 'sha256:aaa');
	SELECT lagbid.finalize(2);
	SELECT lagbid.deposit('$p1', 3, 'u-0');
};

# every released version is updated, through the chain of upgrade scripts,
# to exactly the catalog of a fresh install
for my $from ('0.1', '0.2')
{
	my $db = 'old_' . ($from =~ s/\./_/r);
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, qq{CREATE EXTENSION lagbid VERSION '$from'});
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'lagbid'}), $from, "created at $from");
	$node->safe_psql($db, $market);
	isnt($node->safe_psql($db, $catalog), $node->safe_psql('fresh', $catalog), "$from differs from $current before the update");

	$node->safe_psql($db, 'ALTER EXTENSION lagbid UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'lagbid'}),
		$current, "$from updated to $current");

	my ($old, $fresh) = ($node->safe_psql($db, $catalog), $node->safe_psql('fresh', $catalog));
	is($old, $fresh, "a database updated from $from has the catalog of a fresh install");
	if ($old ne $fresh)
	{
		my %f = map { $_ => 1 } split /\n/, $fresh;
		my %o = map { $_ => 1 } split /\n/, $old;
		diag("only after update: $_") for grep { !$f{$_} } sort keys %o;
		diag("only in fresh: $_") for grep { !$o{$_} } sort keys %f;
	}
	is($node->safe_psql($db, q{SELECT state FROM lagbid.task WHERE id = 1}), 'processing', "the market came through from $from");
	is($node->safe_psql($db, 'SELECT count(*) FROM lagbid.check_invariants()'), '0', "and is consistent after the update from $from");

	# holders are typed now: the money and the notices landed on the right ones
	is($node->safe_psql($db, q{SELECT string_agg(kind || ' ' || name || ' ' || balance, ', ' ORDER BY kind, name)
	                             FROM lagbid.account WHERE kind IN ('owner', 'provider')}),
		"owner alice 90, owner bob 40, provider $p1 3, provider $p2 10",
		"accounts from $from became typed holders with their balances");
	is($node->safe_psql($db, qq{SELECT lagbid.balance('bob') || ' ' || lagbid.balance('$p2', holder_kind => 'provider')
	                              || ' ' || lagbid.balance('$p2')}),
		'40 10 0', "balance() reads the owner's and the provider's accounts apart after the update from $from");
	is($node->safe_psql($db, q{SELECT string_agg(recipient_kind || ' ' || recipient || ' ' || kind
	                                             || ' ' || (payload->>'recipient_kind'), ', ' ORDER BY id)
	                             FROM lagbid.notification WHERE acked_at IS NULL}),
		"provider $p1 bid_won provider, provider $p2 bid_won provider, owner bob results_ready owner, provider $p2 job_paid provider, owner bob task_completed owner",
		"pending notifications from $from are addressed to typed holders");
	# and the market goes on with typed holders
	$node->safe_psql($db, qq{SELECT lagbid.deposit('$p2', 7, 'u-3'); SELECT lagbid.deposit('$p2', 3, 'u-4', holder_kind => 'provider');});
	is($node->safe_psql($db, qq{SELECT lagbid.balance('$p2') || ' ' || lagbid.balance('$p2', holder_kind => 'provider')}),
		'7 13', "after the update from $from an owner named like a node id is another holder");
	is($node->safe_psql($db, 'SELECT count(*) FROM lagbid.check_invariants()'), '0', "still consistent after the update from $from");
}

# 0.3 -> 0.4 with a live market: an open bid, a processing job, a job that
# uploaded its result, a completed task; all of it comes through and goes on
{
	my $db = 'old_0_3';
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql($db, q{CREATE EXTENSION lagbid VERSION '0.3'});
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'lagbid'}), '0.3', 'created at 0.3');
	$node->safe_psql($db, qq{
		SELECT lagbid.deposit('alice', 100, 'u-1');
		SELECT lagbid.register_provider('$p1', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', 4);
		SELECT lagbid.register_provider('$p2', ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu', '{}', 4);
		SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 2, replicas => 2, auto_allocate => false);
		SELECT lagbid.place_bid(1, 1, 4);
		SELECT lagbid.place_bid(1, 2, 5);
		SELECT lagbid.allocate(1);
		SELECT lagbid.upload_result(1, 'forty-two');
		SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 3);
		SELECT lagbid.place_bid(2, 1, 3);
		SELECT lagbid.publish_task('alice', '{}', 1, 10, 1, bid_limit => 1);
		SELECT lagbid.place_bid(3, 2, 2);
		SELECT lagbid.upload_result(3, 'done');
		SELECT lagbid.finalize(3);
	});
	my $before = $node->safe_psql($db, q{SELECT string_agg(kind || ' ' || name || ' ' || balance, ', ' ORDER BY kind, name) FROM lagbid.account});
	$node->safe_psql($db, 'ALTER EXTENSION lagbid UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'lagbid'}), $current, "0.3 updated to $current");
	my ($old, $fresh) = ($node->safe_psql($db, $catalog), $node->safe_psql('fresh', $catalog));
	is($old, $fresh, 'a database updated from 0.3 has the catalog of a fresh install');
	if ($old ne $fresh)
	{
		my %f = map { $_ => 1 } split /\n/, $fresh;
		my %o = map { $_ => 1 } split /\n/, $old;
		diag("only after update: $_") for grep { !$f{$_} } sort keys %o;
		diag("only in fresh: $_") for grep { !$o{$_} } sort keys %f;
	}
	is($node->safe_psql($db, q{SELECT string_agg(id || ' ' || state, ', ' ORDER BY id) FROM lagbid.task}),
		'1 processing, 2 accepting_bids, 3 completed', 'the tasks of a live 0.3 market came through');
	is($node->safe_psql($db, q{SELECT string_agg(id || ' ' || state, ', ' ORDER BY id) FROM lagbid.job}),
		'1 submitted, 2 processing, 3 completed', 'and its jobs, one mid-flight');
	is($node->safe_psql($db, q{SELECT string_agg(kind || ' ' || name || ' ' || balance, ', ' ORDER BY kind, name) FROM lagbid.account}),
		$before, 'every balance is what it was');
	is($node->safe_psql($db, 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'consistent after the update from 0.3');
	# the live work finishes under 0.4's rules
	$node->safe_psql($db, q{SELECT lagbid.upload_result(2, 'forty-two'); SELECT lagbid.finalize(1); SELECT lagbid.withdraw_bid(3);});
	is($node->safe_psql($db, q{SELECT state || ' ' || (SELECT count(*) FROM lagbid.job WHERE task_id = 1 AND state = 'completed') FROM lagbid.task WHERE id = 1}),
		'completed 2', 'the job in flight at the update completes after it, both replicas agreeing');
	is($node->safe_psql($db, 'SELECT count(*) FROM lagbid.check_invariants()'), '0', 'and the market is still consistent');

	# trust (issue 20): the jobs that finished before the update count for
	# nothing, the two that finished after it count; reputation started at 0
	is($node->safe_psql($db, q{SELECT string_agg(id || ' ' || outcome, ', ' ORDER BY id) FROM lagbid.job}),
		'1 agreed, 2 agreed, 3 legacy', 'jobs finished before the update are legacy, those after have their outcome');
	is($node->safe_psql($db, q{SELECT string_agg(id || ' ' || score || ' ' || jobs_completed || ' ' || jobs_agreed, ', ' ORDER BY id) FROM lagbid.provider}),
		'1 1 1 1, 2 1 1 1', 'the replicas that agreed after the update earned their score');
	# collateral on the updated market: both bids lock their bond, both
	# replicas agree, both bonds go back to their providers
	$node->safe_psql($db, qq{
		SELECT lagbid.deposit('$p1', 50, 'u-p1', holder_kind => 'provider');
		SELECT lagbid.deposit('$p2', 50, 'u-p2', holder_kind => 'provider');
		SELECT lagbid.publish_task('alice', '{}', 1, 10, 2, bid_limit => 2, replicas => 2, collateral_ratio => 0.5);
	});
	$node->safe_psql($db, q{SELECT lagbid.place_bid(4, 1, 4); SELECT lagbid.place_bid(4, 2, 6);});
	is($node->safe_psql($db, q{SELECT string_agg(bond || ' ' || bond_state, ', ' ORDER BY id) FROM lagbid.bid WHERE task_id = 4}),
		'4.0 locked, 6.0 locked', 'bids on a collateral task lock their bonds after the update');
	$node->safe_psql($db, q{SELECT lagbid.upload_result(4, 'same'); SELECT lagbid.upload_result(5, 'same'); SELECT lagbid.finalize(4);});
	is($node->safe_psql($db, q{SELECT string_agg(bond_state, ',' ORDER BY id) || ' ' || (SELECT sum(bonded) = 0 FROM lagbid.account) || ' ' || (SELECT count(*) FROM lagbid.ledger_tx WHERE kind = 'slash') FROM lagbid.bid WHERE task_id = 4}),
		'released,released true 0', 'both replicas agreed: both bonds released, no hold left, nothing slashed');
	is($node->safe_psql($db, q{SELECT count(*) FROM lagbid.check_invariants()}), '0',
		'the ledger sums to zero with the bonds, after the update');
}

$node->stop;
done_testing();
