"""Build cbce: the C99 core (src/cbce/core) and the Cython bindings, in one extension.

Build options come from the environment, never from argv:
  CBCE_CFLAGS   extra compiler flags appended to the defaults (e.g. "-g -O0").
The version has one source: the CBCE_VERSION_* macros in include/cbce.h.
"""
import glob
import os
import platform
import re
import shutil
import sys

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def read_version():
    with open(os.path.join(HERE, "include", "cbce.h")) as f:
        text = f.read()
    parts = [re.search(r"#define CBCE_VERSION_%s (\d+)" % k, text).group(1)
             for k in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


class build_py_with_headers(build_py):
    """Ship include/cbce.h (and cbce.pxd) inside the package, for cbce.get_include()."""

    def run(self):
        super().run()
        dst = os.path.join(self.build_lib, "cbce", "include")
        os.makedirs(dst, exist_ok=True)
        shutil.copy(os.path.join(HERE, "include", "cbce.h"), dst)
        pxd = os.path.join(HERE, "src", "cbce", "cbce.pxd")
        if os.path.exists(pxd):
            shutil.copy(pxd, dst)


# SIMD variants of the kernel files (those defining compute steps, see internal.h (d)):
# each is compiled again per level with its flags; the plain compile is the baseline.
SIMD_VARIANTS = [("scalar", ["-fno-tree-vectorize", "-fno-tree-slp-vectorize"])]
if platform.machine().lower() in ("x86_64", "amd64"):
    SIMD_VARIANTS += [("avx2", ["-mavx2", "-mfma"]),
                      ("avx512", ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl",
                                  "-mavx2", "-mfma"])]


def kernel_files(sources):
    return [s for s in sources if re.search(r"CBCE__(ISA_NAME|STEPS)\(", open(s).read())]


class build_ext_with_variants(build_ext):
    """Compile the C core (plus its kernel files once per SIMD level), archive it as
    cbce/lib/libcbce.a for extensions that `cimport cbce` (cbce.get_library_dir()), and link
    the same objects into the extension."""

    def build_extension(self, ext):
        msvc = self.compiler.compiler_type == "msvc"
        if msvc:
            ext.define_macros.append(("CBCE_NO_SIMD_VARIANTS", "1"))
        core_macros = [m for m in ext.define_macros if m[0].startswith("CBCE")]
        core_includes = ["include", "src/cbce/core"]
        objs = self.compiler.compile(core_sources,
                                     output_dir=os.path.join(self.build_temp, "core"),
                                     macros=core_macros, include_dirs=core_includes,
                                     extra_postargs=ext.extra_compile_args)
        for name, flags in ([] if msvc else SIMD_VARIANTS):
            print(f"cbce: compiling the {name} kernels with", " ".join(flags))
            objs += self.compiler.compile(
                kernel_files(core_sources),
                output_dir=os.path.join(self.build_temp, "simd_" + name),
                macros=core_macros + [("CBCE__ISA_VARIANT", "1"),
                                      ("CBCE__ISA_SUFFIX", "_" + name)],
                include_dirs=core_includes,
                extra_postargs=ext.extra_compile_args + flags)
        libdir = os.path.join(os.path.dirname(self.get_ext_fullpath(ext.name)), "lib")
        self.compiler.create_static_lib(objs, "cbce", output_dir=libdir)
        print("cbce: the C core for cimport users:", libdir)
        ext.sources = [s for s in ext.sources if s not in core_sources]
        ext.extra_objects = list(ext.extra_objects or []) + objs
        ext.depends = list(ext.depends) + objs  # fresh objects: always relink
        super().build_extension(ext)


if sys.platform == "win32":
    cflags = ["/O2", "/fp:precise"]
else:
    # -fno-trapping-math lets GCC if-convert the selects in the kernels; -ffp-contract=off
    # keeps results bitwise identical across instruction sets.  Never fast-math: it
    # breaks inf/NaN handling and deletes the compensated sums.
    # -g0: no debug info in the shipped extension and libcbce.a (Python's own CFLAGS often
    # carry -g); CBCE_CFLAGS="-g" brings it back.
    cflags = ["-O3", "-fno-trapping-math", "-ffp-contract=off", "-pthread", "-fvisibility=hidden",
              "-g0"]
cflags += os.environ.get("CBCE_CFLAGS", "").split()
print("cbce: compiling with", " ".join(cflags))

core_sources = sorted(glob.glob("src/cbce/core/**/*.c", recursive=True))
ext = Extension(
    "cbce._core",
    sources=["src/cbce/_core.pyx"] + core_sources,
    depends=core_sources + sorted(glob.glob("src/cbce/core/**/*.h", recursive=True))
    + ["include/cbce.h"],
    include_dirs=["include", "src/cbce/core", numpy.get_include()],
    define_macros=[("CBCE_STATIC_DEFINE", "1"), ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    extra_compile_args=cflags,
    libraries=[] if sys.platform == "win32" else ["m"],
    extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
)

setup(
    version=read_version(),
    package_dir={"": "src"},
    packages=["cbce", "cbce.integrations"] if os.path.isdir("src/cbce/integrations") else ["cbce"],
    package_data={"cbce": ["py.typed", "*.pyi", "*.pxd"]},
    include_package_data=False,
    ext_modules=cythonize([ext], language_level=3,
                          compiler_directives={"boundscheck": False, "wraparound": False}),
    cmdclass={"build_py": build_py_with_headers, "build_ext": build_ext_with_variants},
    zip_safe=False,
)
