# The README's commands, as make targets (make is optional: ./dev does the work).
.PHONY: start setup test lint ci bench

start:
	./dev start

setup:
	./dev setup

test:
	./dev test

lint:
	./dev lint

ci:
	bash .ci/run

bench:
	./dev bench
