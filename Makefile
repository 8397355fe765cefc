# Magic Session Manager. `make test` runs every test against the real
# PostgreSQL and Redis of this machine (scripts/test.sh starts them when they
# are down) and the real geo data (fetched once into a cache outside the repo).

GO ?= go

.PHONY: run test test-short bench fuzz build vet

run:
	$(GO) run ./cmd/sessionmanager serve

build:
	$(GO) build -o bin/sessionmanager ./cmd/sessionmanager

test:
	bash scripts/test.sh

test-short:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...

bench:
	bash scripts/bench.sh
