# Node keys that prove nothing (issue 19, defect 8).  The review's attack:
# node id 12D3KooW9tGaPdJo5jmCpadQ971nfiq4kLcQjeBPYTfutBTtckPH, whose ed25519
# public key is the identity point (01 then 31 zero bytes), "signed" its
# registration with 01 then 63 zero bytes and signed up verified = t (and
# the same signature worked again at sequence 2).  That signature verifies
# under OpenSSL for ANY message: shown here with the openssl CLI, then
# refused by lagbid (LB010) through every door: easy signup by an unbound
# login, a bound provider's signed and unsigned registration, the
# challenge.  Every one of the eight small-order points, and keys whose y
# is not below p, are refused the same way; and a 0.3 database where such a
# provider was marked verified loses the mark at ALTER EXTENSION UPDATE.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $reviewer = '12D3KooW9tGaPdJo5jmCpadQ971nfiq4kLcQjeBPYTfutBTtckPH';
my $identity_key = '01' . ('00' x 31);
my $forged_sig = '01' . ('00' x 63);

# ---------------------------------------------------------------------------
# 1. the forgery is real: OpenSSL verifies it for any message
# ---------------------------------------------------------------------------
my $dir = PostgreSQL::Test::Utils::tempdir;
sub spew { my ($f, $bytes) = @_; open my $fh, '>:raw', $f or die "$f: $!"; print $fh $bytes; close $fh; }
# SubjectPublicKeyInfo of an ed25519 key: the fixed DER prefix, then the key
spew("$dir/pub.der", pack('H*', '302a300506032b6570032100' . $identity_key));
spew("$dir/sig", pack('H*', $forged_sig));
for my $msg ('lagbid-registration-v1 of anything', 'another message entirely')
{
	spew("$dir/msg", $msg);
	my ($out, $err) = run_command([ 'openssl', 'pkeyutl', '-verify', '-pubin', '-keyform', 'DER',
		'-inkey', "$dir/pub.der", '-rawin', '-in', "$dir/msg", '-sigfile', "$dir/sig" ]);
	like($out, qr/Signature Verified Successfully/,
		"openssl verifies 01||63x00 under the identity key for \"$msg\" (no private key needed)");
}

my $node = PostgreSQL::Test::Cluster->new('node_keys');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION lagbid;
	CREATE ROLE cp_evil LOGIN;
	GRANT lagbid_provider TO cp_evil;
});
is($node->safe_psql('postgres', "SELECT lagbid.peer_id_from_ed25519('\\x$identity_key')"), $reviewer,
	"the review's node id holds the identity point as its key");

# ---------------------------------------------------------------------------
# 2. the review's reproduction, as an unbound daemon login signing up
# ---------------------------------------------------------------------------
my ($rc, $out, $err) = $node->psql('postgres', qq{
	SELECT lagbid_api.register_provider(ARRAY['/ip4/10.0.0.9/tcp/4001'], 'eu', '{}', 1,
	                                     signature => '\\x$forged_sig', node_id => '$reviewer')},
	extra_params => [ '-U', 'cp_evil' ]);
like($err, qr/\Q$reviewer\E\\?" has an ed25519 key that can prove nothing/,
	'easy signup with the forged signature is refused');
like($err, qr/small order/, 'saying why');
($rc, $out, $err) = $node->psql('postgres', qq{
	SET lagbid.api_errors = on;
	SELECT lagbid.register_provider('$reviewer', ARRAY['/ip4/10.0.0.9/tcp/4001'], 'eu', '{}', 1,
	                                signature => '\\x$forged_sig')});
like($err, qr/"code":"LB010"/, 'through the API the refusal is LB010');
like($err, qr/"status":400/, 'which PostgREST answers with 400');
is($node->safe_psql('postgres', q{SELECT count(*) FROM lagbid.provider}), '0', 'no provider was registered');
is($node->safe_psql('postgres', q{SELECT count(*) FROM lagbid.login_binding}), '0', 'and the login is not bound');
($rc, $out, $err) = $node->psql('postgres', qq{
	SELECT lagbid.registration_challenge('$reviewer', ARRAY['/ip4/10.0.0.9/tcp/4001'])});
like($err, qr/can prove nothing/, 'no challenge is issued to it either');

# ---------------------------------------------------------------------------
# 3. every small-order point, and non-canonical encodings: refused, signed
#    or not; a good key registers
# ---------------------------------------------------------------------------
my @small = (
	'0100000000000000000000000000000000000000000000000000000000000000',    # order 1
	'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',    # order 2
	'0000000000000000000000000000000000000000000000000000000000000000',    # order 4
	'0000000000000000000000000000000000000000000000000000000000000080',    # order 4
	'26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',    # order 8
	'26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',    # order 8
	'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',    # order 8
	'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa');   # order 8
my @noncanonical = (
	'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',    # p (= 0)
	'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',    # p + 1 (= 1)
	'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff');   # 2^255 - 1, sign set
# (the eight points are the torsion subgroup: [L]P over random curve points
# P gives exactly these; src/identity/ed25519.c and test/unit list them too)
my $i = 0;
for my $key (@small, @noncanonical)
{
	$i++;
	my $id = $node->safe_psql('postgres', "SELECT lagbid.peer_id_from_ed25519('\\x$key')");
	my $what = $i <= @small ? "small-order point $key" : "non-canonical key $key";
	($rc, $out, $err) = $node->psql('postgres', qq{
		SELECT lagbid.register_provider('$id', ARRAY['/ip4/10.0.0.$i/tcp/4001'], 'eu', '{}')});
	like($err, qr/can prove nothing/, "unsigned registration of $what refused");
	($rc, $out, $err) = $node->psql('postgres', qq{
		SELECT lagbid.register_provider('$id', ARRAY['/ip4/10.0.0.$i/tcp/4001'], 'eu', '{}',
		                                signature => '\\x$forged_sig')});
	like($err, qr/can prove nothing/, "signed registration of $what refused");
	is($node->safe_psql('postgres', "SELECT lagbid.node_key_problem('$id') IS NOT NULL"), 't',
		"node_key_problem names $what");
}
is($node->safe_psql('postgres', q{SELECT count(*) FROM lagbid.provider}), '0', 'none of them registered');
my $good = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA';
is($node->safe_psql('postgres', qq{SELECT lagbid.register_provider('$good', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}')}),
	'1', 'a real key registers');
is($node->safe_psql('postgres', qq{SELECT lagbid.node_key_problem('$good') IS NULL
	AND lagbid.node_key_problem('QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N') IS NULL}),
	't', 'node_key_problem: nothing wrong with a real key, nor with a Qm id (no key in it)');
is($node->safe_psql('postgres', q{SELECT http_status FROM lagbid.error_codes() WHERE sqlstate = 'LB010'}),
	'400', 'LB010 is documented, a 400');

# ---------------------------------------------------------------------------
# 4. a 0.3 market where the attack had succeeded: the update clears verified
# ---------------------------------------------------------------------------
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', qq{
	CREATE EXTENSION lagbid VERSION '0.3';
	SELECT lagbid.register_provider('$good', ARRAY['/ip4/10.0.0.1/tcp/4001'], 'eu', '{}');
	SELECT lagbid.register_provider('12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE', ARRAY['/ip4/10.0.0.2/tcp/4001'], 'eu', '{}');
	-- what 0.3 let the review do (this library refuses to register it)
	UPDATE lagbid.provider SET node_id = '$reviewer', multiaddrs = ARRAY['/ip4/10.0.0.9/tcp/4001'],
	       verified = true, registration_seq = 2 WHERE id = 1;
	UPDATE lagbid.provider SET verified = true, registration_seq = 1 WHERE id = 2;
});
$node->safe_psql('old', 'ALTER EXTENSION lagbid UPDATE');
is($node->safe_psql('old', q{SELECT string_agg(id || ' ' || verified, ', ' ORDER BY id) FROM lagbid.provider}),
	'1 false, 2 true', 'after the update the forged provider is no longer verified; a real one still is');

$node->stop;
done_testing();
