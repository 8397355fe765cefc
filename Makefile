# Magic Session Manager. `make test` runs every test against the real
# PostgreSQL and Redis of this machine (scripts/test.sh starts them when they
# are down) and the real geo data (fetched once into a cache outside the repo).

GO ?= go
# Every module of go.work (the library, cmd/loadgen, e2e): ./... stops at a nested go.mod.
PKGS = $(shell bash scripts/packages.sh)

.PHONY: run test test-short bench bench-fleet fuzz build vet staticcheck

run:
	$(GO) run ./cmd/sessionmanager serve

build:
	$(GO) build -o bin/sessionmanager ./cmd/sessionmanager

test:
	bash scripts/test.sh

test-short:
	$(GO) test -short $(PKGS)

vet:
	$(GO) vet -tags licensetest $(PKGS)

bench:
	bash scripts/bench.sh

# The fleet figures (ten instances, force logouts at a rate; PostgreSQL and
# Redis from SM_TEST_POSTGRES_URL / SM_TEST_REDIS_URL), about 15 minutes.
bench-fleet:
	bash scripts/bench-fleet.sh

fuzz:
	bash scripts/fuzz.sh

staticcheck:
	bash scripts/staticcheck.sh
