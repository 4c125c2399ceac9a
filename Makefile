# Makefile -- build, test and install the cbce C core with nothing but make and a C compiler
# (no Python, no CMake).  GNU make.
#
#   make                      static and shared library in $(BUILDDIR)
#   make test                 the C tests (status codes, layouts, thread pool, C++ header)
#   make check                test + symbol and header checks
#   make install              PREFIX=/usr/local  DESTDIR=  LIBDIR=  INCLUDEDIR=  PKGCONFIGDIR=
#   make uninstall / clean
#
# CC, CFLAGS, LDFLAGS and CPPFLAGS may be overridden (CFLAGS defaults to -O3 -Wall -Wextra);
# the flags the numerics rely on are always added: -ffp-contract=off keeps results bitwise
# identical across compilers and instruction sets, -fno-trapping-math lets the selects in the
# kernels be if-converted.  Never add the fast-math flags: they break inf/NaN handling and
# delete the compensated sums.
#
# The version has one source, the CBCE_VERSION_* macros of include/cbce.h.  The soname
# follows it: libcbce.so.MAJOR, or libcbce.so.0.MINOR while MAJOR is 0 (0.x minors may break
# the ABI).

VERSION_MAJOR := $(shell sed -n 's/.*define CBCE_VERSION_MAJOR  *\([0-9][0-9]*\).*/\1/p' include/cbce.h)
VERSION_MINOR := $(shell sed -n 's/.*define CBCE_VERSION_MINOR  *\([0-9][0-9]*\).*/\1/p' include/cbce.h)
VERSION_PATCH := $(shell sed -n 's/.*define CBCE_VERSION_PATCH  *\([0-9][0-9]*\).*/\1/p' include/cbce.h)
VERSION := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
ifeq ($(VERSION_MAJOR),0)
SOVERSION := 0.$(VERSION_MINOR)
else
SOVERSION := $(VERSION_MAJOR)
endif

CFLAGS ?= -O3 -Wall -Wextra
CXX ?= c++
CXXFLAGS ?= -O2 -Wall -Wextra
BUILDDIR ?= build/make
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL ?= install

# Always added, after the user's flags.
CBCE_CFLAGS := -std=c99 -fno-trapping-math -ffp-contract=off -fvisibility=hidden -fPIC -pthread \
               -DCBCE_BUILDING -Iinclude -Isrc/cbce/core
LIBS := -lm -pthread

UNAME_S := $(shell uname -s)
ifeq ($(UNAME_S),Darwin)
SHARED_EXT := dylib
SHARED_FULL := libcbce.$(VERSION).dylib
SHARED_SO := libcbce.$(SOVERSION).dylib
SHARED_LDFLAGS = -dynamiclib -install_name $(LIBDIR)/$(SHARED_SO) \
                 -compatibility_version $(SOVERSION) -current_version $(VERSION)
RPATH_FLAG = -Wl,-rpath,
else
SHARED_EXT := so
SHARED_FULL := libcbce.so.$(VERSION)
SHARED_SO := libcbce.so.$(SOVERSION)
SHARED_LDFLAGS = -shared -Wl,-soname,$(SHARED_SO) -Wl,--no-undefined
RPATH_FLAG = -Wl,-rpath,
endif

SRCS := $(sort $(wildcard src/cbce/core/*.c src/cbce/core/*/*.c))
OBJS := $(patsubst src/cbce/core/%.c,$(BUILDDIR)/obj/%.o,$(SRCS))

# SIMD variants (src/cbce/core/internal.h (d)): the kernel files -- those defining compute
# steps with CBCE__ISA_NAME -- are compiled again per instruction-set level with its flags;
# the plain compile is the baseline, and the level is chosen per call at run time.  Levels
# avx2/avx512 exist for x86-64 targets.  `make SIMD=0` builds the baseline only.
SIMD ?= 1
ISA_MARK := CBCE__\(ISA_NAME\|STEPS\)(
KERNEL_SRCS := $(if $(SRCS),$(shell grep -l '$(ISA_MARK)' $(SRCS)))
TARGET_MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
ifeq ($(SIMD),0)
SIMD_LEVELS :=
CBCE_CFLAGS += -DCBCE_NO_SIMD_VARIANTS
else
SIMD_LEVELS := scalar
ifneq ($(filter x86_64-% amd64-%,$(TARGET_MACHINE)),)
SIMD_LEVELS += avx2 avx512
endif
endif
SIMD_FLAGS_scalar := -fno-tree-vectorize -fno-tree-slp-vectorize
SIMD_FLAGS_avx2 := -mavx2 -mfma
SIMD_FLAGS_avx512 := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma
OBJS += $(foreach l,$(SIMD_LEVELS),$(patsubst src/cbce/core/%.c,$(BUILDDIR)/obj/$(l)/%.o,$(KERNEL_SRCS)))
STATIC := $(BUILDDIR)/libcbce.a
SHARED := $(BUILDDIR)/$(SHARED_FULL)

TEST_CFLAGS := -std=c99 -pedantic -Wall -Wextra
TEST_BINS := $(BUILDDIR)/test_api $(BUILDDIR)/test_api_shared $(BUILDDIR)/test_pool

.PHONY: all lib static shared test check check-symbols check-header install uninstall \
        clean version config pc FORCE
all: lib
lib: static shared
static: $(STATIC)
shared: $(SHARED)
pc: $(BUILDDIR)/cbce.pc

version:
	@echo $(VERSION)

config:
	@echo "cbce $(VERSION) (soname $(SHARED_SO)), $(CC) for $(TARGET_MACHINE)"
	@echo "CFLAGS: $(CFLAGS) $(CBCE_CFLAGS)"
	@echo "SIMD variants: $(or $(SIMD_LEVELS),none) of $(or $(KERNEL_SRCS),no kernel files)"

$(BUILDDIR)/obj/%.o: src/cbce/core/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(CBCE_CFLAGS) -MMD -MP -c $< -o $@

define simd_variant_rule
$(BUILDDIR)/obj/$(1)/%.o: src/cbce/core/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CPPFLAGS) $$(CFLAGS) $$(CBCE_CFLAGS) -DCBCE__ISA_VARIANT=1 \
	    -DCBCE__ISA_SUFFIX=_$(1) $$(SIMD_FLAGS_$(1)) -MMD -MP -c $$< -o $$@
endef
$(foreach l,$(SIMD_LEVELS),$(eval $(call simd_variant_rule,$(l))))

$(STATIC): $(OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(SHARED): $(OBJS)
	$(CC) $(CFLAGS) $(SHARED_LDFLAGS) -o $@ $^ $(LDFLAGS) $(LIBS)
	ln -sf $(SHARED_FULL) $(BUILDDIR)/$(SHARED_SO)
	ln -sf $(SHARED_SO) $(BUILDDIR)/libcbce.$(SHARED_EXT)

# Regenerated every time: it records PREFIX/LIBDIR/INCLUDEDIR, which may change between calls.
# Relocatable when LIBDIR, INCLUDEDIR and PKGCONFIGDIR lie under PREFIX (the default):
# prefix=${pcfiledir}/../.., so the installed tree may be moved or copied anywhere.
$(BUILDDIR)/cbce.pc: cbce.pc.in include/cbce.h FORCE
	@mkdir -p $(@D)
	@prefix='$(PREFIX)'; libdir='$(LIBDIR)'; includedir='$(INCLUDEDIR)'; \
	case "$(PKGCONFIGDIR)|$(LIBDIR)|$(INCLUDEDIR)" in \
	"$(PREFIX)"/*"|$(PREFIX)"/*"|$(PREFIX)"/*) \
	    up=$$(echo "$(patsubst $(PREFIX)/%,%,$(PKGCONFIGDIR))" | sed 's|[^/][^/]*|..|g'); \
	    prefix="\$${pcfiledir}/$$up"; \
	    libdir="\$${prefix}/$(patsubst $(PREFIX)/%,%,$(LIBDIR))"; \
	    includedir="\$${prefix}/$(patsubst $(PREFIX)/%,%,$(INCLUDEDIR))";; \
	esac; \
	sed -e "s|@prefix@|$$prefix|" -e "s|@libdir@|$$libdir|" \
	    -e "s|@includedir@|$$includedir|" -e 's|@VERSION@|$(VERSION)|' $< > $@

# ---- tests --------------------------------------------------------------------------------
$(BUILDDIR)/test_api: tests/c/test_api.c include/cbce.h $(STATIC)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TEST_CFLAGS) -Iinclude $< $(STATIC) -o $@ $(LDFLAGS) $(LIBS)

$(BUILDDIR)/test_api_shared: tests/c/test_api.c include/cbce.h $(SHARED)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TEST_CFLAGS) -Iinclude $< -o $@ -L$(BUILDDIR) -lcbce \
	    $(RPATH_FLAG)$(abspath $(BUILDDIR)) $(LDFLAGS) $(LIBS)

# the internal thread pool (src/cbce/core/runtime/pool.h), linked from the static library
$(BUILDDIR)/test_pool: tests/c/test_pool.c src/cbce/core/runtime/pool.h $(STATIC)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TEST_CFLAGS) -Isrc/cbce/core $< $(STATIC) -o $@ $(LDFLAGS) $(LIBS)

$(BUILDDIR)/test_cxx: tests/c/test_cxx.cpp include/cbce.h $(STATIC)
	$(CXX) $(CXXFLAGS) -pedantic -Iinclude $< $(STATIC) -o $@ $(LDFLAGS) $(LIBS)

# the vector layer (src/cbce/core/simd/vec.h), once per SIMD level
VEC_TESTS := $(foreach l,plain $(SIMD_LEVELS),$(BUILDDIR)/test_vec_$(l))
SIMD_FLAGS_plain :=
$(BUILDDIR)/test_vec_%: tests/c/test_vec.c $(wildcard src/cbce/core/simd/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(TEST_CFLAGS) $(SIMD_FLAGS_$*) -Isrc/cbce/core $< -o $@ $(LIBS)

test: $(TEST_BINS) $(BUILDDIR)/test_cxx $(VEC_TESTS)
	for t in $(VEC_TESTS); do $$t || exit 1; done
	$(BUILDDIR)/test_api
	$(BUILDDIR)/test_api_shared
	$(BUILDDIR)/test_pool
	$(BUILDDIR)/test_cxx

check-symbols: $(STATIC) $(SHARED)
	sh tests/c/check_symbols.sh include/cbce.h $(STATIC) $(SHARED)

check-header:
	sh tests/c/check_header.sh

check: test check-symbols check-header

# ---- install ------------------------------------------------------------------------------
install: $(STATIC) $(SHARED) $(BUILDDIR)/cbce.pc
	$(INSTALL) -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 644 include/cbce.h $(DESTDIR)$(INCLUDEDIR)/cbce.h
	$(INSTALL) -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/libcbce.a
	$(INSTALL) -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/$(SHARED_FULL)
	ln -sf $(SHARED_FULL) $(DESTDIR)$(LIBDIR)/$(SHARED_SO)
	ln -sf $(SHARED_SO) $(DESTDIR)$(LIBDIR)/libcbce.$(SHARED_EXT)
	$(INSTALL) -m 644 $(BUILDDIR)/cbce.pc $(DESTDIR)$(PKGCONFIGDIR)/cbce.pc

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/cbce.h $(DESTDIR)$(LIBDIR)/libcbce.a \
	      $(DESTDIR)$(LIBDIR)/$(SHARED_FULL) $(DESTDIR)$(LIBDIR)/$(SHARED_SO) \
	      $(DESTDIR)$(LIBDIR)/libcbce.$(SHARED_EXT) $(DESTDIR)$(PKGCONFIGDIR)/cbce.pc

clean:
	rm -rf $(BUILDDIR)

FORCE:

-include $(OBJS:.o=.d)
