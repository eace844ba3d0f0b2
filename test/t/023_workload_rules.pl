# One corpus, two judges (issue 19, defect 9): every workload of
# test/vectors/workloads.txt is published through lagbid.publish_task and
# must get the verdict written beside it -- the same file that
# agent/test/unit_test.c (test_corpus) runs through the agent's checker.
# Both sides compile src/rules/workload_rules.c; this proves that the
# walks around the rules (jsonb here, jansson there) agree too.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('rules');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION lagbid;
SELECT lagbid.deposit('alice', 1000000, 'seed');
CREATE FUNCTION public.verdict(w text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lagbid.publish_task('alice', '{}', 1, 2, 1, workload => w::jsonb);
    RETURN 'ok';
EXCEPTION WHEN others THEN
    RETURN 'refused ' || SQLSTATE || ': ' || SQLERRM;
END $$;
});

open my $fh, '<', 'test/vectors/workloads.txt' or die "test/vectors/workloads.txt: $!";
my @cases;
while (my $line = <$fh>)
{
	chomp $line;
	next if $line =~ /^#/ || $line eq '';
	my ($want, $doc) = split /\t/, $line, 2;
	push @cases, [ $want, $doc ];
}
close $fh;
cmp_ok(scalar(@cases), '>', 50, scalar(@cases) . ' workloads in the corpus');

# one query for all: the documents travel as a text[] of dollar-free literals
my $values = join ",\n", map {
	my $d = $cases[$_][1];
	$d =~ s/'/''/g;
	"($_, '$d')"
} 0 .. $#cases;
my $out = $node->safe_psql('postgres',
	"SELECT n, verdict(doc) FROM (VALUES $values) AS c(n, doc) ORDER BY n");
my %got = map { my ($n, $v) = split /\|/, $_, 2; ($n => $v) } split /\n/, $out;
my $refused_other = 0;
for my $i (0 .. $#cases)
{
	my ($want, $doc) = @{ $cases[$i] };
	my $got = $got{$i} // 'missing';
	my $verdict = $got eq 'ok' ? 'ok' : 'refused';
	is($verdict, $want, "corpus line $i: the market says $want")
	  or diag("workload: " . substr($doc, 0, 200) . "\nmarket: $got");
	# a refusal is the documented one: LB009 (LB007 for size), or the jsonb
	# cast itself (22P02/22P05) for what is not JSON at all
	$refused_other++ if $verdict eq 'refused' && $got !~ /^refused (LB009|LB007|22P02|22P05|22023):/;
}
is($refused_other, 0, 'every refusal is LB009, LB007 or the jsonb cast\'s own');
$node->stop;
done_testing();
