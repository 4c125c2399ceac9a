"""Build cbce_example against the installed cbce Python package.

    pip install cbce cython setuptools   # cbce provides get_include(): cbce.h + cbce.pxd
    python setup.py build_ext --inplace && python run_example.py

Building needs Cython (3.0 or newer) and setuptools besides cbce; CI (.ci/embed.sh) runs
these commands as they are written here.

Headers and declarations come from cbce.get_include().  The code is the C core's static
library: cbce.get_library_dir() when the package ships it (<package>/lib/libcbce.a), or the
lib/ folder of a C install (`make install` / `cmake --install`) named by CBCE_LIB_DIR.  The
core's only global state is its thread pool, private to each copy, so a private static copy
in this extension is safe next to the one inside cbce itself.
"""
import os
import sys

import cbce
from Cython.Build import cythonize
from setuptools import Extension, setup


def cbce_library_dir():
    if os.environ.get("CBCE_LIB_DIR"):
        return os.environ["CBCE_LIB_DIR"]
    if hasattr(cbce, "get_library_dir"):
        return cbce.get_library_dir()
    return os.path.join(os.path.dirname(cbce.get_include()), "lib")


include = cbce.get_include()
libdir = cbce_library_dir()
static = os.path.join(libdir, "cbce.lib" if sys.platform == "win32" else "libcbce.a")
for path in (os.path.join(include, "cbce.h"), os.path.join(include, "cbce.pxd"), static):
    if not os.path.exists(path):
        sys.exit(f"cbce_example: {path} not found (cbce {cbce.__version__} at {cbce.__file__}; "
                 "set CBCE_LIB_DIR to the lib/ folder of a C install of cbce)")
print(f"cbce_example: cbce.h and cbce.pxd from {include}, the core from {static}")

ext = Extension(
    "cbce_example",
    sources=["cbce_example.pyx"],
    include_dirs=[include],
    define_macros=[("CBCE_STATIC_DEFINE", "1")],
    extra_objects=[static],
    libraries=[] if sys.platform == "win32" else ["m"],
    extra_link_args=[] if sys.platform == "win32" else ["-pthread"],
)
setup(name="cbce_example", ext_modules=cythonize([ext], include_path=[include]),
      zip_safe=False)
