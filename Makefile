# The README's two commands are `make run` and `make test`; CI runs `.ci/run`.
.PHONY: setup run test lint bench

setup:
	@scripts/setup.sh

run: setup
	cargo run --release -- serve

test:
	@scripts/setup.sh test
	cargo test
	cd engine-wasm && cargo test --release --target x86_64-unknown-linux-gnu
	cd isolate-host && npm test
	cd web && npm test
	tests/fuzz/.venv/bin/python tests/fuzz/run.py

lint: setup
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cd engine-wasm && cargo fmt --check && cargo clippy --release -- -D warnings
	cd isolate-host && npm run lint
	cd web && npm run check

bench: setup
	cargo bench --bench wasm
	cargo bench --bench isolate
