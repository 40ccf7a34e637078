# tollgate: one non-recursive Makefile. `make` builds build/tollgate; `make test`
# runs the unit tests in the plain and the sanitizer tree, then the integration
# and SDK suites against the simulator and a private PostgreSQL.

PKGS      := libevent libcurl libpq hiredis
WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wformat=2 -Wundef -Wno-format-nonliteral
CFLAGS    ?= -O2 -g
BUILD     ?= build
PREFIX    ?= /usr/local
Q         := $(if $(V),,@)

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CPPFLAGS  += -Iinclude -D_GNU_SOURCE -DTG_SHARE_DIR=\"$(PREFIX)/share/tollgate\" $(PKG_CFLAGS)
# Debian's libhttp-parser-dev ships no .pc file (nor does upstream): linked by name.
LDLIBS    += $(PKG_LIBS) -lhttp_parser -lm

# Every program's main() lives in a main.c; everything else also links into the test runner.
LIB_SRC   := $(filter-out %/main.c,$(wildcard core/*.c shm/*.c worker/*.c worker/wire/*.c \
               logger/*.c master/*.c))
MOCK_SRC  := $(filter-out %/main.c,$(wildcard tests/mock/*.c))
CHECK_SRC := $(wildcard tests/check_*.c tests/*/check_*.c tests/*/*/check_*.c)

LIB_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC))
MOCK_OBJ  := $(patsubst %.c,$(BUILD)/%.o,$(MOCK_SRC))
CHECK_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(CHECK_SRC))

all: $(BUILD)/tollgate $(BUILD)/tollgate-mock $(BUILD)/tollgate-http-static

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(CPPFLAGS) $(WARN) $(CFLAGS) -MMD -MP -c $< -o $@

# worker/wire/ is pure: the wire formats compile without libevent and libcurl. Every
# header of theirs is shadowed by one that is an #error, found first on the include
# path, so an include of either fails the build instead of passing unnoticed.
POISON_DIR    := $(BUILD)/poison
POISON_INCS   := /usr/include /usr/local/include $(patsubst -I%,%,$(filter -I%,$(PKG_CFLAGS)))
POISON_EVENT  := $(sort buffer.h buffer_compat.h bufferevent.h bufferevent_compat.h \
                 bufferevent_ssl.h bufferevent_struct.h dns.h dns_compat.h dns_struct.h \
                 event-config.h event.h event_compat.h event_struct.h http.h http_compat.h \
                 http_struct.h keyvalq_struct.h listener.h rpc.h rpc_compat.h rpc_struct.h \
                 tag.h tag_compat.h thread.h util.h visibility.h \
                 $(notdir $(wildcard $(addsuffix /event2/*.h,$(POISON_INCS)))))
POISON_CURL   := $(sort curl.h curlver.h easy.h header.h mprintf.h multi.h options.h \
                 stdcheaders.h system.h typecheck-gcc.h urlapi.h websockets.h \
                 $(notdir $(wildcard $(addsuffix /curl/*.h,$(POISON_INCS)))))
POISON_HDRS   := $(addprefix $(POISON_DIR)/event2/,$(POISON_EVENT)) \
                 $(addprefix $(POISON_DIR)/curl/,$(POISON_CURL)) \
                 $(addprefix $(POISON_DIR)/,event.h evdns.h evhttp.h evrpc.h evutil.h)
WIRE_CPPFLAGS := -I$(POISON_DIR) -Iinclude -D_GNU_SOURCE

$(POISON_HDRS):
	@mkdir -p $(@D)
	$(Q)printf '#error "worker/wire/ is pure code: it must not include %s"\n' \
		'$(patsubst $(POISON_DIR)/%,%,$@)' > $@

# The poison is proved to work before anything of wire/ is compiled against it.
$(POISON_DIR)/proved: $(POISON_HDRS)
	$(Q)for h in event2/event.h event2/http.h curl/curl.h event.h; do \
		if printf '#include <%s>\n' $$h | \
		   $(CC) -std=c11 $(WIRE_CPPFLAGS) -fsyntax-only -x c - 2>/dev/null; then \
			echo "$(POISON_DIR) does not stop an include of $$h" >&2; exit 1; \
		fi; \
	done; touch $@

$(BUILD)/worker/wire/%.o: worker/wire/%.c $(POISON_DIR)/proved
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(WIRE_CPPFLAGS) $(WARN) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tollgate: $(BUILD)/master/main.o $(LIB_OBJ)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tollgate-mock: $(BUILD)/tests/mock/main.o $(MOCK_OBJ) $(filter $(BUILD)/core/%,$(LIB_OBJ))
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# a static reply through the worker's HTTP server, for tests/stress/bench_http.sh
$(BUILD)/tollgate-http-static: $(BUILD)/tests/stress/http_static.o \
		$(filter $(BUILD)/worker/http%,$(LIB_OBJ)) $(filter $(BUILD)/core/%,$(LIB_OBJ))
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# the ledger write alone, logger and PostgreSQL CPU per row, for tests/stress/ledger_bench.sh
$(BUILD)/tollgate-ledger-bench: $(BUILD)/tests/stress/ledger_bench.o $(LIB_OBJ)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# the simulator embeds its default profiles (.incbin): rebuild when they change
$(BUILD)/tests/mock/profiles.o: tests/mock/profiles.json

# The runner lists every `Suite *tg_<name>_suite(void)` defined in the check_*.c files; the
# unit tests of a folder sit in its mirror under tests/ (worker/wire/ in tests/worker/wire/).
$(BUILD)/tests/suites.h: $(CHECK_SRC)
	@mkdir -p $(@D)
	$(Q)sed -n 's/^\(tg_[a-z0-9_]*_suite\)(void)$$/SUITE(\1)/p' $(CHECK_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/tests/check_main.o: tests/check_main.c $(BUILD)/tests/suites.h
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(CPPFLAGS) -I$(BUILD)/tests $(WARN) $(CFLAGS) $(shell pkg-config --cflags check) -c $< -o $@

$(filter-out $(BUILD)/tests/check_main.o,$(CHECK_OBJ)): $(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(CC) -std=c11 $(CPPFLAGS) $(WARN) $(CFLAGS) $(shell pkg-config --cflags check) -MMD -MP -c $< -o $@

$(BUILD)/check_tollgate: $(BUILD)/tests/check_main.o $(CHECK_OBJ) $(LIB_OBJ) $(MOCK_OBJ)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) $(shell pkg-config --libs check) -o $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

asan:   ## same sources, separate tree; every sanitizer report is fatal
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan \
		CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all" \
		LDFLAGS="-fsanitize=address,undefined" all build-asan/check_tollgate

deps:
	$(Q)sh tests/deps.sh

# Unit, sanitizer, integration and SDK suites against a private PostgreSQL (tests/run.sh).
test: deps
	$(Q)$(MAKE) --no-print-directory all $(BUILD)/check_tollgate
	$(Q)$(MAKE) --no-print-directory asan
	$(Q)sh tests/run.sh

# The motivating experiment, end to end, with the cost report at the end (tests/demo.sh).
demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh tests/demo.sh

# wrk through the gateway, nginx proxy_pass and direct to the simulator, one interleaved run
# with the CPU per call of each; long streams held through nginx and the gateway
# (streams_bench.sh); then the worker's HTTP server alone beside nginx's return 200 and
# evhttp (bench_http.sh); then three nodes against one through HAProxy, and the cluster
# test's long phases (tests/cluster/). tests/stress/callcost.sh measures one worker's
# instructions, allocations and system calls per call.
bench: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)sh tests/stress/bench.sh
	$(Q)sh tests/stress/streams_bench.sh
	$(Q)sh tests/stress/pipeline_bench.sh
	$(Q)sh tests/stress/bench_http.sh
	$(Q)MODE=bench sh tests/cluster/run.sh
	$(Q)MODE=long sh tests/cluster/run.sh

# Load with faults in turn (worker and logger kill -9, PostgreSQL restart, SIGHUP,
# a provider down), then wrk's answers against the database rows (tests/stress/scenario.sh);
# then a full disk and a crashing database, 20 s a phase (tests/stress/durability.sh),
# long streams across a reload storm, a stop and a worker kill (tests/stress/drain.sh), and
# clients without a key attacking beside a good one, 20 s a phase (tests/stress/hostile.sh)
stress: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)DURATION=$${DURATION:-60} sh tests/stress/scenario.sh
	$(Q)sh tests/stress/durability.sh
	$(Q)sh tests/stress/drain.sh
	$(Q)DURATION=$${HOSTILE_DURATION:-20} sh tests/stress/hostile.sh

fuzz:
	$(Q)sh tests/fuzz/run.sh

# The binary looks for its migrations under $(PREFIX)/share/tollgate: build and
# install with the same PREFIX (DESTDIR only stages the files).
install: $(BUILD)/tollgate
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tollgate/migrations $(DESTDIR)$(PREFIX)/share/tollgate/etc
	install -m 0755 $(BUILD)/tollgate $(DESTDIR)$(PREFIX)/bin/tollgate
	install -m 0644 migrations/*.sql $(DESTDIR)$(PREFIX)/share/tollgate/migrations/
	install -m 0644 etc/*.json etc/tollgate.service $(DESTDIR)$(PREFIX)/share/tollgate/etc/

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all asan deps test demo bench stress fuzz install clean
