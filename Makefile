# lagbid — PGXS build.
#
#   make            build the extension (warnings are errors)
#   make install    install into the PostgreSQL that pg_config names
#   make test       install missing Debian packages, build, install, run every suite
#   make demo       run a small market on a throwaway local cluster
#   make market     start your own local market (pg_cron on) and leave it running;
#                   make market-stop stops it (scripts/market.sh)
#   make torture    64 clients calling everything for 60 s, then the invariants
#   make fuzz       libFuzzer on the identity parsers
#   make bench      benchmarks (bench/run.sh; BENCH_QUICK=1 for a smoke)
#   make ha-test    Patroni + etcd failover test
#   make check-agent  lagbid-agent's unit and sandbox tests (agent/)
#
# The install script is generated: the numbered parts under sql/install/ are
# concatenated in name order, so each part documents one concern of the schema.

EXTENSION   = lagbid
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" lagbid.control)

MODULE_big  = lagbid
# every C file under src/ is one module (one concern per file)
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/identity/*.c src/rules/*.c)))
# Ed25519 signatures of registrations (src/registration.c): OpenSSL's libcrypto
SHLIB_LINK  = -lcrypto

DATA_built  = lagbid--$(EXTVERSION).sql lagbid--0.3--0.4.sql
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
# earlier versions' install and upgrade scripts, kept as released
DATA        = sql/upgrade/lagbid--0.1.sql sql/upgrade/lagbid--0.2.sql \
              sql/upgrade/lagbid--0.3.sql \
              sql/upgrade/lagbid--0.1--0.2.sql sql/upgrade/lagbid--0.2--0.3.sql
# the upgrade to the current version: every file of sql/upgrade/0.3--0.4/
# in name order -- the changes 0.4 made to what 0.3 had, and (as symbolic
# links into sql/install/) the install parts 0.4 added whole
UPGRADE_0_4 = $(sort $(wildcard sql/upgrade/0.3--0.4/*.sql))

# pg_regress: sql/NAME.sql compared with expected/NAME.out; setup first, then
# the others in name order (each test makes its own owners and providers).
REGRESS      = setup $(filter-out setup,$(sort $(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --temp-instance=./tmp_check --temp-config=test/pg_test.conf

# isolation specs: test/specs/NAME.spec compared with test/expected/NAME.out
ISOLATION      = $(sort $(basename $(notdir $(wildcard test/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test --temp-instance=./tmp_check_iso --temp-config=test/pg_test.conf

# PostgreSQL TAP tests (PostgreSQL::Test::Cluster)
TAP_TESTS   = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src -DLAGBID_VERSION='"$(EXTVERSION)"'
PG_CFLAGS   = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
              -Wno-sign-compare -Wno-implicit-fallthrough -Wno-cast-function-type

EXTRA_CLEAN = $(DATA_built) test/unit/identity_test test/unit/resource_rules_test

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# after PGXS, which resets it: verbose, so the harness can count the tests
PROVE_FLAGS = -v

# lagbid-agent, the provider's daemon (agent/, its own Makefile), built,
# installed into pg_config's bindir and cleaned with the extension
all: agent
install: install-agent
clean: clean-agent
agent:
	$(MAKE) -C agent PG_CONFIG=$(PG_CONFIG)
install-agent: agent
	$(MAKE) -C agent PG_CONFIG=$(PG_CONFIG) install
clean-agent:
	$(MAKE) -C agent clean
check-agent: agent
	$(MAKE) -C agent PG_CONFIG=$(PG_CONFIG) check

# PGXS here tracks no header dependencies: every object depends on every header
$(OBJS): $(wildcard src/*.h src/identity/*.h src/rules/*.h)
# the library reports the version it was built as
src/lagbid.o: lagbid.control

lagbid--$(EXTVERSION).sql: $(INSTALL_PARTS) lagbid.control
	@for f in $(INSTALL_PARTS); do cat $$f; echo; done > $@

lagbid--0.3--0.4.sql: $(UPGRADE_0_4)
	@{ echo '\\echo Use "ALTER EXTENSION lagbid UPDATE" to load this file. \\quit'; \
	   for f in $(UPGRADE_0_4); do cat $$f; echo; done; } > $@

.PHONY: test demo market market-stop deps check-regress check-isolation check-tap check-pgtap check-unit \
	lint torture fuzz bench ha-test docs ubsan agent install-agent clean-agent check-agent

deps:
	bash scripts/deps.sh

test:
	bash scripts/test.sh

demo:
	bash scripts/demo.sh

market:
	@bash scripts/market.sh start

market-stop:
	@bash scripts/market.sh stop

# The suites, each against its own throwaway cluster (run as a non-root user).
check-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

check-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

check-tap:
	$(prove_installcheck)

check-pgtap:
	bash scripts/pgtap.sh

check-unit:
	$(MAKE) -C test/unit check

lint:
	bash scripts/lint.sh

# the long concurrency torture (make test runs a 10-second one)
torture: install
	bash test/torture/run.sh $${TORTURE_SECONDS:-60} $${TORTURE_CLIENTS:-64}

# libFuzzer on the identity parsers (FUZZ_SECONDS each, default 30)
fuzz:
	$(MAKE) -C test/fuzz fuzz

bench:
	bash bench/run.sh

ha-test:
	bash test/ha/run.sh

# state diagrams (docs/states/) from the code's transition table
docs:
	bash scripts/docs.sh

# the regress and isolation suites against an UndefinedBehaviorSanitizer build
ubsan:
	bash scripts/ubsan.sh
