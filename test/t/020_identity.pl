# Identity across the life of a database: a 0.2 schema running on the 0.3
# library (after a package upgrade, before ALTER EXTENSION UPDATE) still
# serves PostgREST's calls though it has no login_binding table yet; the
# update keeps the providers (not verified); login bindings survive pg_dump
# and restore; and a daemon's own login, bound by the platform, acts through
# the API over a real connection with no claims.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('identity');
$node->init;
$node->start;
my $n1 = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
$node->safe_psql('postgres', 'CREATE DATABASE market');
$node->safe_psql('market', qq{
	CREATE EXTENSION lagbid VERSION '0.2';
	CREATE ROLE authenticator LOGIN NOINHERIT;
	GRANT lagbid_anon, lagbid_owner, lagbid_provider, lagbid_platform TO authenticator;
	CREATE ROLE cp1 LOGIN;
	GRANT lagbid_provider TO cp1;
	SELECT lagbid.register_provider('$n1', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}', 2);
});

# PostgREST's prologue, as its login
my $api = qq{BEGIN;
	SET LOCAL ROLE lagbid_provider;
	SELECT set_config('request.jwt.claims', '{"role": "lagbid_provider", "sub": "$n1"}', true) \\g /dev/null
	SELECT lagbid_api.balance();
	COMMIT;};
is($node->safe_psql('market', $api, extra_params => [ '-U', 'authenticator' ]), '0',
	'a 0.2 schema on the 0.3 library serves the authenticator');
my ($rc, $out, $err) = $node->psql('market', $api, extra_params => [ '-U', 'cp1' ]);
like($err, qr/not trusted/, 'and already refuses claims from another login');

$node->safe_psql('market', 'ALTER EXTENSION lagbid UPDATE');
is($node->safe_psql('market', 'SELECT verified, registration_seq FROM lagbid.provider'), 'f|0',
	'the update keeps the provider, not verified');

# a daemon's own login, bound by the platform: no claims, no SET ROLE
$node->safe_psql('market', qq{SELECT lagbid.bind_login('$n1', 'cp1')});
$node->safe_psql('market', 'SELECT lagbid_api.set_bid_limit(4)', extra_params => [ '-U', 'cp1' ]);
is($node->safe_psql('market', 'SELECT max_concurrent FROM lagbid.provider'), '4',
	'the bound login acted as its node over a real connection');

# bindings are data: dump and restore keep them
my $dump = $node->basedir . '/market.sql';
$node->command_ok([ 'pg_dump', '-d', $node->connstr('market'), '-f', $dump ], 'pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE restored');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored'),
	'-c', 'SET session_replication_role = replica', '-f', $dump ], 'restore');
is($node->safe_psql('restored', 'SELECT login::text, kind, subject, how FROM lagbid.login_binding'),
	"cp1|provider|$n1|platform", 'the binding came through the dump');
$node->safe_psql('restored', 'SELECT lagbid_api.set_bid_limit(2)', extra_params => [ '-U', 'cp1' ]);
is($node->safe_psql('restored', 'SELECT max_concurrent FROM lagbid.provider'), '2',
	'and the restored binding resolves');

$node->stop;
done_testing();
