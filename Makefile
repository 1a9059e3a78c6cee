# Thin aliases for ./rapport (which does all the set-up).
.PHONY: run test bench lint asyncapi
run:
	./rapport run
test:
	./rapport test
bench:
	./rapport bench
lint:
	./rapport lint
asyncapi:
	./rapport asyncapi
