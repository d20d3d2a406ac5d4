# lab: one binary, five papers. Every target installs what it needs (idempotent).
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

LAB_CACHE ?= $(HOME)/.cache/lab
LAB_VENV ?= $(LAB_CACHE)/venv
TORCH_VERSION := 2.13.0
# MuJoCo for npg-rank1's MuJoCo tasks (spec §4.7): mujoco-rs 7.0.0 binds exactly MuJoCo 3.17.0,
# linked from the PyPI wheel's libmujoco.so.3.17.0; the model files come from the Gymnasium wheel.
MUJOCO_VERSION := 3.17.0
GYMNASIUM_VERSION := 1.4.0
export CARGO_TARGET_DIR ?= $(LAB_CACHE)/target
export VIRTUAL_ENV := $(LAB_VENV)
export PATH := $(LAB_VENV)/bin:$(HOME)/.cargo/bin:$(PATH)
export LIBTORCH_USE_PYTORCH := 1
# Set (empty) so .cargo/config.toml's build-time torch shim stays out of make's builds.
export PYTHONPATH :=
# Git-ignored per checkout: lib/libmujoco.so (a symlink into the venv's wheel: the wheel has no
# unversioned name, which mujoco-rs's build script looks for) and assets/*.xml (Gymnasium's
# models). build.rs adds an rpath to the wheel's mujoco/ directory. .cargo/config.toml points
# plain cargo builds at the same directory.
MUJOCO_GEN := $(CURDIR)/data/generated/mujoco
export MUJOCO_DYNAMIC_LINK_DIR := $(MUJOCO_GEN)/lib

LAB := $(CARGO_TARGET_DIR)/release/lab
TORCH_STAMP := $(LAB_VENV)/.torch-$(TORCH_VERSION)
MUJOCO_STAMP := $(LAB_VENV)/.mujoco-$(MUJOCO_VERSION)-gymnasium-$(GYMNASIUM_VERSION)
# Every paper subcommand has configs/<name>/ (the list itself is src/subcommands.rs).
SUBCOMMANDS := $(notdir $(wildcard configs/*))

.PHONY: setup venv mujoco openblas corpora data-kjv build demo test check unit smoke bench fmt \
	clean-cache reproduce-decompose bench-decompose-peers reproduce-npg-rank1 reproduce-entropy-probe \
	repro-entropy-theory repro-entropy-quick repro-entropy-paper reproduce-grng repro-grng-toy \
	repro-grng-quick reproduce-prefixrl repro-prefixrl-paper repro-prefixrl-paper1 \
	reproduce-npg-rank1-mujoco \
	repro-npg-rank1-mujoco-quick

setup: venv mujoco openblas data-kjv

venv: $(TORCH_STAMP)

$(TORCH_STAMP):
	@echo "== creating venv $(LAB_VENV) with torch==$(TORCH_VERSION) (one time, ~5 GB)"
	python3 -m venv "$(LAB_VENV)"
	"$(LAB_VENV)/bin/python" -m pip install --quiet --upgrade pip
	"$(LAB_VENV)/bin/python" -m pip install --quiet "torch==$(TORCH_VERSION)"
	touch "$@"

# The wheels without their dependencies: lab needs only libmujoco.so and the MJCF files.
$(MUJOCO_STAMP): $(TORCH_STAMP)
	"$(LAB_VENV)/bin/python" -m pip install --quiet --no-deps "mujoco==$(MUJOCO_VERSION)" \
	  "gymnasium==$(GYMNASIUM_VERSION)"
	touch "$@"

# Idempotent: relinks and recopies into this checkout's data/generated/mujoco on every call.
mujoco: $(MUJOCO_STAMP)
	@site=$$("$(LAB_VENV)/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
	mkdir -p "$(MUJOCO_GEN)/lib" "$(MUJOCO_GEN)/assets"
	ln -sfn "$$site/mujoco/libmujoco.so.$(MUJOCO_VERSION)" "$(MUJOCO_GEN)/lib/libmujoco.so"
	cp -f "$$site"/gymnasium/envs/mujoco/assets/*.xml "$(MUJOCO_GEN)/assets/"

openblas:
	@bash scripts/ensure-openblas.sh

# Debian's bible-kjv and fortunes packages (apt-get; idempotent).
corpora:
	@bash scripts/ensure-corpora.sh

# The KJV corpus (docs/data.md) at data/generated/kjv.txt (git-ignored): lab normalises the
# `bible` dump, checks its sha256 and writes it; a file that already matches is left alone.
data-kjv: venv mujoco openblas corpora
	@cargo build --release --locked
	"$(LAB)" corpus prepare kjv

build: setup
	@cargo build --release --locked
	@echo "== built $(LAB)"

# A short real run of every subcommand on its embedded default config.
demo: build
	@for sub in $(SUBCOMMANDS); do
	  echo "== lab $$sub (embedded default config)"
	  "$(LAB)" $$sub --name demo-$$(date +%Y%m%d-%H%M%S)
	done

test: build check unit smoke
	@echo "== make test: all passed"

check:
	@cargo fmt --check
	cargo clippy --release --locked --all-targets -- -D warnings

unit:
	cargo test --release --locked

# Every subcommand's smoke config (each under a minute), into a throw-away directory.
smoke: build
	@tmp=$$(mktemp -d)
	for sub in $(SUBCOMMANDS); do
	  start=$$(date +%s%N)
	  "$(LAB)" $$sub --config configs/$$sub/smoke.yaml --out "$$tmp/$$sub" --quiet >/dev/null
	  echo "smoke $$sub: ok ($$(( ($$(date +%s%N) - start) / 1000000 )) ms)"
	done
	rm -rf "$$tmp"

bench: build
	cargo bench --locked

# Paper-scale reproductions (long; results under results/).
reproduce-decompose: build
	LAB="$(LAB)" scripts/decompose-reproduce.sh

# decompose against peers (issue 17): random patterns vs a NumPy dense Newton and CVXPY+SCS
# (benches/peers/decompose_random.py), and with AUTHORS=<checkout of orzuk/ConstrainedDecomposition>
# Table 2 against the authors' code in the same run (decompose_authors.py). The peers run in a
# separate dev venv (numpy, scipy, cvxpy, scs, matplotlib, pandas); results under
# data/decompose/results/. Long (about an hour each on the shared 2-core VM).
DEV_VENV ?= $(LAB_CACHE)/devvenv
bench-decompose-peers: build
	if [ ! -x "$(DEV_VENV)/bin/python" ]; then python3 -m venv "$(DEV_VENV)"; fi
	"$(DEV_VENV)/bin/python" -m pip install --quiet numpy scipy cvxpy scs matplotlib pandas
	LAB="$(LAB)" "$(DEV_VENV)/bin/python" benches/peers/decompose_random.py
	if [ -n "$${AUTHORS:-}" ]; then
	  LAB="$(LAB)" "$(DEV_VENV)/bin/python" benches/peers/decompose_authors.py --authors "$$AUTHORS"
	fi

reproduce-npg-rank1: build
	LAB="$(LAB)" scripts/npg-rank1-reproduce.sh configs/npg-rank1/paper.yaml results/npg-rank1/t2-classic

# The T3 MuJoCo study (configs/npg-rank1/mujoco.yaml: 6 tasks x 7 algorithms x 5 seeds, 1M steps:
# days on 2 cores) and its first look (Hopper, HalfCheetah, Walker2d; 1 seed; 100k steps).
reproduce-npg-rank1-mujoco: build
	LAB="$(LAB)" scripts/npg-rank1-reproduce.sh configs/npg-rank1/mujoco.yaml results/npg-rank1/t3-mujoco

repro-npg-rank1-mujoco-quick: build
	LAB="$(LAB)" scripts/npg-rank1-reproduce.sh configs/npg-rank1/mujoco.yaml \
	  results/npg-rank1/t3-mujoco-quick --set total_steps=100000 --set 'study.seeds=[0]' \
	  --set 'study.cases.env={Hopper-v5: {env.id: Hopper-v5}, HalfCheetah-v5: {env.id: HalfCheetah-v5}, Walker2d-v5: {env.id: Walker2d-v5}}'

# entropy-probe (spec §6.3): theory tables, E-syn, the quick grid with its verdict report.
# PrefixRL's R1-R8 grid (spec §7.6): the pipeline runs, then the grid and its §7.11 report.
# The quick tier (1 seed, shorter) is the first look; the paper tier takes hours per run;
# paper1 is 1 seed at the spec's RL sizes on the quick tier's pipeline (the <= 2 h grid).
reproduce-prefixrl: build
	LAB="$(LAB)" scripts/prefixrl-reproduce.sh quick

repro-prefixrl-paper1: build
	LAB="$(LAB)" scripts/prefixrl-reproduce.sh paper1

repro-prefixrl-paper: build
	LAB="$(LAB)" scripts/prefixrl-reproduce.sh paper

reproduce-entropy-probe: build
	LAB="$(LAB)" scripts/entropy-probe-reproduce.sh theory e-syn quick

repro-entropy-theory: build
	LAB="$(LAB)" scripts/entropy-probe-reproduce.sh theory

repro-entropy-quick: build
	LAB="$(LAB)" scripts/entropy-probe-reproduce.sh quick

repro-entropy-paper: build
	LAB="$(LAB)" scripts/entropy-probe-reproduce.sh paper

# grng (spec §6.2, §6.10): the theory toy, the quick look, the equal-budget sweep and the 84-run
# paper table stand-in at the sweep's picks (~40 min on 2 cores).
reproduce-grng: build
	LAB="$(LAB)" scripts/grng-reproduce.sh toy quick sweep paper

repro-grng-toy: build
	LAB="$(LAB)" scripts/grng-reproduce.sh toy

repro-grng-quick: build
	LAB="$(LAB)" scripts/grng-reproduce.sh quick

fmt:
	cargo fmt

clean-cache:
	rm -rf "$(CARGO_TARGET_DIR)"
