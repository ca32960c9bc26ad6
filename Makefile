# sparkgen — build, install, test, bench, demo.
# `make` builds ./sparkgen; `make test SANITIZE=1` builds and tests an ASan+UBSan binary.

PREFIX   ?= /usr/local
DESTDIR  ?=
DATADIR   = $(PREFIX)/share/sparkgen
LIBDIR    = $(PREFIX)/lib/sparkgen

CC       ?= cc
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -pedantic -fPIC \
            $(shell pkg-config --cflags lua5.4 libcurl libpq nettle sqlite3) \
            -DSPARKGEN_DATADIR='"$(DATADIR)"' -DSPARKGEN_LIBDIR='"$(LIBDIR)"'
LDFLAGS  += -Wl,-E

# The binary holds the host and the small primitives; pg, http, digest and sqlite are shared
# objects opened on first require (see main.c), so a command pays only for the
# libraries it uses.
SRC       = src/main.c src/sys.c src/cache.c src/proc.c src/sandbox.c
LAZY      = pg http digest sqlite
HDR       = src/sparkgen.h
LIBS_pg     = $(shell pkg-config --libs libpq)
LIBS_http   = $(shell pkg-config --libs libcurl)
LIBS_digest = $(shell pkg-config --libs nettle)
LIBS_sqlite = $(shell pkg-config --libs sqlite3)

ifeq ($(SANITIZE),1)
  BUILD   = build/sanitize
  CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS += -fsanitize=address,undefined
  BIN     = $(BUILD)/sparkgen
else
  BUILD   = build/release
  BIN     = sparkgen
endif
OBJ       = $(SRC:src/%.c=$(BUILD)/%.o) $(BUILD)/embedded.o
MODULES   = $(LAZY:%=$(BUILD)/modules/sparkgen_%.so)
LDLIBS   += $(shell pkg-config --libs lua5.4) -lm -ldl

# The Debian packages sparkgen needs to build, test and run its jobs (`make deps`).
DEB_BUILD = build-essential pkg-config liblua5.4-dev libcurl4-openssl-dev libpq-dev nettle-dev libsqlite3-dev
DEB_LUA   = lua-cjson lua-argparse lua-busted
DEB_TEST  = postgresql python3 python3-venv openjdk-17-jre-headless util-linux bsdutils time
DEB_ALL   = $(DEB_BUILD) $(DEB_LUA) $(DEB_TEST)

# The engine's Lua modules, and the libraries every command loads, are compiled into the
# binary (tools/luaembed.c, a host tool linked with the same liblua): package.preload
# serves them, so no bytecode is ever read from a cache directory and start-up parses
# nothing of its own. `make` rebuilds when any of them changes, or a file is added or
# removed (embed-list). Types, rules, templates and prompts stay plain files.
EMBED_SRC  = $(sort $(shell find lua/sparkgen -name '*.lua'))
EMBED_LIBS = argparse
embed_name = $(subst /,.,$(patsubst lua/%.lua,%,$(patsubst %/init.lua,%.lua,$(1))))
LUAEMBED   = build/luaembed

# Keep the objects the modules are linked from (tests/c links them too).
.SECONDARY:

.PHONY: FORCE all install uninstall deps deb-packages test bench demo spark clean

all: $(BIN) $(MODULES) $(LAZY:%=$(BUILD)/%.o)

$(BIN): $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $(OBJ) $(LDLIBS)

# Lua symbols come from the host (linked with -Wl,-E), so modules do not link liblua.
$(BUILD)/modules/sparkgen_%.so: $(BUILD)/%.o | $(BUILD)/modules
	$(CC) -shared $(filter -fsanitize%,$(LDFLAGS)) -o $@ $< $(LIBS_$*)

$(BUILD)/%.o: src/%.c $(HDR) | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

# Built without the sanitizers: it runs at build time only.
$(LUAEMBED): tools/luaembed.c | $(BUILD)
	$(CC) -std=c11 -O2 -Wall -Wextra $(shell pkg-config --cflags lua5.4) -o $@ $< $(shell pkg-config --libs lua5.4)

$(BUILD)/embedded.c: $(LUAEMBED) $(EMBED_SRC) $(BUILD)/embed-list
	$(LUAEMBED) $@ $(BUILD)/embedded.d $(foreach f,$(EMBED_SRC),$(call embed_name,$(f))=$(f)) $(EMBED_LIBS)

$(BUILD)/embed-list: FORCE | $(BUILD)
	@echo '$(EMBED_SRC) $(EMBED_LIBS)' | cmp -s - $@ || echo '$(EMBED_SRC) $(EMBED_LIBS)' > $@

$(BUILD)/embedded.o: $(BUILD)/embedded.c $(HDR)
	$(CC) $(CFLAGS) -Isrc -c -o $@ $<

# The libraries' files, as the tool found them.
-include $(BUILD)/embedded.d

# main.c has the install paths compiled in: rebuild it when PREFIX changes.
$(BUILD)/main.o: $(BUILD)/prefix
$(BUILD)/prefix: FORCE | $(BUILD)
	@echo '$(PREFIX)' | cmp -s - $@ || echo '$(PREFIX)' > $@
FORCE:

$(BUILD) $(BUILD)/modules:
	mkdir -p $@

install: $(BIN) $(MODULES)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(DATADIR) $(DESTDIR)$(LIBDIR)
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sparkgen
	install -m 0644 $(MODULES) $(DESTDIR)$(LIBDIR)/
	cp -R lua templates prompts py $(DESTDIR)$(DATADIR)/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/sparkgen
	rm -rf $(DESTDIR)$(DATADIR) $(DESTDIR)$(LIBDIR)

# Idempotent: installs only what dpkg does not already report as installed.
deps:
	@missing=$$(for p in $(DEB_ALL); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null \
	    | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	    echo "installing:" $$missing; \
	    $$( [ $$(id -u) -ne 0 ] && echo sudo ) apt-get update && \
	    $$( [ $$(id -u) -ne 0 ] && echo sudo ) apt-get install -y $$missing; \
	else echo "all Debian packages present"; fi

# The list alone, for scripts (.ci/run): apt-get install -y $$(make -s deb-packages)
deb-packages:
	@echo $(DEB_ALL)

test: deps all
	@SPARKGEN="$(CURDIR)/$(BIN)" SPARKGEN_HOME="$(CURDIR)" SANITIZE="$(SANITIZE)" \
	    tests/run.sh

bench: $(BIN) $(MODULES)
	@SPARKGEN="$(CURDIR)/$(BIN)" SPARKGEN_HOME="$(CURDIR)" bench/run.sh

demo: deps $(BIN) $(MODULES)
	@SPARKGEN="$(CURDIR)/$(BIN)" SPARKGEN_HOME="$(CURDIR)" examples/demo.sh

# A virtual environment with a pinned pyspark for running jobs (git-ignored).
PYSPARK_VERSION = 4.3.0
SPARK_VENV      = .venv
spark: $(SPARK_VENV)/.pyspark-$(PYSPARK_VERSION)

$(SPARK_VENV)/.pyspark-$(PYSPARK_VERSION):
	python3 -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install --quiet --disable-pip-version-check pyspark==$(PYSPARK_VERSION)
	touch $@

clean:
	rm -rf build sparkgen
