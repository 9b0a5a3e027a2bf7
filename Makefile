# The two commands: `make dev` runs everything locally, `make test` runs every check and test.
# Each target is a script in scripts/, so it also runs without make.
SHELL := /usr/bin/env bash

.PHONY: help dev test fmt lint build services tools

help:
	@echo "make dev       run Postgres, Redis, the TMS stand-in, core-api (and the edge) locally"
	@echo "make test      fmt check, clippy, all tests against real Postgres and Redis, e2e"
	@echo "make fmt       format the workspace"
	@echo "make lint      fmt check and clippy (native, and wasm32 for the edge)"
	@echo "make build     build the workspace and the edge Worker"
	@echo "make services  only ensure Postgres and Redis are up"
	@echo "make tools     only install missing build and test tools"

dev:
	@scripts/dev.sh

test:
	@scripts/test.sh

fmt:
	cargo fmt --all

lint:
	@scripts/ensure-tools.sh --base --rust --wasm-target
	@scripts/lint.sh

build:
	@scripts/ensure-tools.sh --base
	SQLX_OFFLINE=true cargo build --workspace
	@scripts/ensure-tools.sh --worker --node
	@scripts/build-edge.sh

services:
	@scripts/ensure-services.sh

tools:
	@scripts/ensure-tools.sh --all
