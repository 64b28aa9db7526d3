# DAIRA — two commands on a fresh machine (Python 3.11+, make, a C compiler):
#   make run    set up and run the whole platform on embedded defaults
#   make test   set up and run the test suite against real Postgres and Redis
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test browser stop status install migrate seed shell bench-feeds clean-var help

help:
	@echo "make run | make test | make stop | make status | make shell"

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m daira.pgvector_build
	@touch $(STAMP)

install: $(STAMP)

.env:
	cp .env.example .env

run: install .env
	$(BIN)/python -m daira.devserver

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Browser tests (moderation review queue) use Debian's chromium + chromedriver. Installed here
# when missing and running as root with apt-get; otherwise (or if apt fails) those tests skip.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
	      || echo "browser: apt-get install failed; browser tests will skip"; \
	  else echo "browser: no /usr/bin/chromium and cannot apt-get as root; browser tests will skip"; fi; \
	fi

stop: install
	$(BIN)/python -m daira.embedded stop

status: install
	$(BIN)/python -m daira.embedded status

migrate: install .env
	$(BIN)/python manage.py migrate --noinput

seed: install .env
	$(BIN)/python manage.py seed_demo

shell: install .env
	$(BIN)/python manage.py shell
