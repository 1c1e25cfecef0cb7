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
	deploy/validate.sh

lint: setup
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings
	cd engine-wasm && cargo fmt --check && cargo clippy --release -- -D warnings
	cd isolate-host && npm run lint
	cd web && npm run check

# Vulcan's own benchmarks, then Vulcan and its peers side by side (benches/peers/): writes
# target/bench-peers.json, target/bench-peers.md (the tables for BENCHMARKS.md) and
# benches/peers/latency.svg (the chart BENCHMARKS.md shows).
bench:
	@scripts/setup.sh bench
	cargo build --release --bin vulcan
	rm -f target/bench-backends.jsonl
	BENCH_LINES=target/bench-backends.jsonl cargo bench --bench wasm
	cargo bench --bench wasm_work
	BENCH_LINES=target/bench-backends.jsonl cargo bench --bench isolate
	cargo bench --bench auth
	node benches/peers/run.mjs --agent $${CARGO_TARGET_DIR:-target}/release/vulcan --include target/bench-backends.jsonl
	node benches/cluster/run.mjs --agent $${CARGO_TARGET_DIR:-target}/release/vulcan
