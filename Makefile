# sluice: `make` builds build/sluiced and build/sluice; `make test` installs
# what it needs, builds under ASan+UBSan and runs every test.
BUILD		?= build
CC		?= gcc
CLANG		?= clang
BPFTOOL		?= bpftool
SANITIZE	?=
V		?=

ifeq ($(V),1)
Q :=
msg := @true
else
Q := @
msg := @printf '  %-8s %s\n'
endif

CFLAGS		:= -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE \
		   -I$(BUILD) -Ibpf -Iuserspace -Iuserspace/lib -Icli $(EXTRA_CFLAGS)
ifneq ($(SANITIZE),)
CFLAGS		+= -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=undefined
LDFLAGS		+= -fsanitize=address,undefined
endif
BPF_CFLAGS	:= -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror \
		   -I$(BUILD) -Ibpf
DAEMON_LIBS	:= -lbpf -lelf -lz -luring -ljansson -lrocksdb -lssl -lcrypto -lcurl -lpthread
CLI_LIBS	:= -lbpf -lelf -lz -ljansson -lrocksdb -lcrypto -lpthread

# userspace/ files every binary may link (no proxy code)
LIB_SRCS	:= $(wildcard userspace/lib/*.c)
# the proxy: everything in userspace/ but its main
DAEMON_SRCS	:= $(filter-out userspace/sluiced.c,$(wildcard userspace/*.c))
DAEMON_SRCS	+= $(wildcard userspace/k8s/*.c)
# protocol modules (proto/proto.h is conn.c's one hook for them)
DAEMON_SRCS	+= userspace/proto/pgwire.c userspace/proto/postgres.c
DAEMON_SRCS	+= userspace/proto/http.c userspace/proto/k8sreq.c userspace/proto/kubernetes.c
# the CLI reads recordings through store.c, read-only, and decides with the
# policy engine itself (check, test --dir); no other proxy code
CLI_SRCS	:= $(filter-out cli/sluice_main.c,$(wildcard cli/*.c)) \
		   userspace/store.c userspace/approval.c \
		   userspace/policy.c userspace/sql.c userspace/mask.c
# the exporter; the CLI renders `session export --format` with its formats
DAEMON_SRCS	+= $(wildcard userspace/export/*.c)
CLI_SRCS	+= userspace/export/formats.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

.DELETE_ON_ERROR:
.PHONY: all clean test unit integration deps bench demo
all: $(BUILD)/sluiced $(BUILD)/sluice

$(BUILD)/vmlinux.h:
	$(msg) GEN $@
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/sluice.bpf.o: bpf/sluice.bpf.c bpf/sluice_abi.h $(wildcard bpf/lib/*.h) $(BUILD)/vmlinux.h
	$(msg) BPF $@
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/sluice.skel.h: $(BUILD)/sluice.bpf.o
	$(msg) SKEL $@
	$(Q)$(BPFTOOL) gen skeleton $< name sluice_bpf > $@

# userspace objects that include the skeleton depend on it
$(call obj,userspace/redirect.c): $(BUILD)/sluice.skel.h

$(BUILD)/obj/%.o: %.c
	$(msg) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/sluiced: $(call obj,userspace/sluiced.c $(DAEMON_SRCS) $(LIB_SRCS))
	$(msg) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DAEMON_LIBS)

$(BUILD)/sluice: $(call obj,cli/sluice_main.c $(CLI_SRCS) $(LIB_SRCS))
	$(msg) LD $@
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

# Unit tests: tests/unit/<module>_test.c links the objects it names below.
UNIT_TESTS	:= $(patsubst tests/unit/%_test.c,%,$(wildcard tests/unit/*_test.c))
UNIT_DEPS_config := userspace/config.c userspace/pods.c
UNIT_DEPS_cli	 := $(CLI_SRCS)
UNIT_DEPS_store	 := userspace/store.c
UNIT_DEPS_tls	 := userspace/tls.c
UNIT_DEPS_sql	 := userspace/sql.c
UNIT_DEPS_jwt	 := userspace/jwt.c
UNIT_DEPS_mask	 := userspace/mask.c
UNIT_DEPS_policy := userspace/policy.c userspace/sql.c userspace/mask.c
UNIT_DEPS_pods	 := userspace/pods.c
UNIT_DEPS_podcache := userspace/k8s/podcache.c userspace/pods.c
UNIT_DEPS_approval := userspace/approval.c userspace/store.c
UNIT_DEPS_session := userspace/session.c userspace/store.c userspace/loop.c \
		     userspace/approval.c userspace/identity.c userspace/policy.c \
		     userspace/sql.c userspace/mask.c userspace/pods.c userspace/jwt.c
UNIT_DEPS_export := userspace/store.c userspace/export/formats.c userspace/export/sinks.c
UNIT_DEPS_pgwire := userspace/proto/pgwire.c userspace/mask.c
UNIT_DEPS_http	 := userspace/proto/http.c
UNIT_DEPS_k8sreq := userspace/proto/k8sreq.c userspace/proto/http.c
UNIT_DEPS_kstream := userspace/proto/kstream.c
UNIT_DEPS_cast	 := $(CLI_SRCS) userspace/proto/kstream.c
UNIT_LIBS	:= $(DAEMON_LIBS) -lcriterion
define unit_rule
$(BUILD)/tests/$(1)_test: $(call obj,tests/unit/$(1)_test.c $(UNIT_DEPS_$(1)) $(LIB_SRCS))
	$$(msg) LD $$@
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(UNIT_LIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))
UNIT_BINS	:= $(patsubst %,$(BUILD)/tests/%_test,$(UNIT_TESTS))

unit-bins: $(UNIT_BINS)

deps:
	$(Q)scripts/deps.sh

# The whole suite, under ASan+UBSan, in its own build tree.
# kube-apiserver for the Kubernetes tests is built once per machine (minutes;
# scripts/kube-apiserver.sh caches it); where it cannot be built they skip.
test: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build/san SANITIZE=1 all unit-bins
	@# the plain -O2 build too: it is what `make demo` and `make bench` run,
	@# and gcc's warnings differ without the sanitizers
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/kube-apiserver.sh >/dev/null || echo "note: no kube-apiserver here; the Kubernetes tests will skip"
	$(Q)tests/run.sh build/san

demo: deps all
	$(Q)scripts/demo.sh

# Throughput, latency, CPU and memory against direct and HAProxy (not part of test).
bench: deps all
	$(Q)SLUICE_BUILD=$(BUILD) scripts/bench.sh

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
