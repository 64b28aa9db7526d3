# DAIRA — two commands on a fresh machine (Python 3.11+, make, a C compiler):
#   make run    set up and run the whole platform on embedded defaults
#   make test   set up and run the test suite against real Postgres and Redis
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test stop status install migrate seed shell bench-feeds clean-var help

help:
	@echo "make run | make test | make stop | make status | make shell"

$(STAMP): requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $(STAMP)

install: $(STAMP)

.env:
	cp .env.example .env

run: install .env
	$(BIN)/python -m daira.devserver

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

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
