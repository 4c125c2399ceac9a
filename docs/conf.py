"""Sphinx configuration of the cbce documentation.

Build:    python -m sphinx -W -b html docs docs/_build/html
Doctests: python -m sphinx -W -b doctest docs docs/_build/doctest
The API pages are generated from the docstrings of the installed cbce package.
"""
import doctest
import os
import re

import cbce  # noqa: F401 - the API pages document the installed package: fail early without it

_here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_here, "..", "include", "cbce.h")) as _f:
    _v = dict(re.findall(r"#define CBCE_VERSION_(MAJOR|MINOR|PATCH) (\d+)", _f.read()))

project = "cbce"
author = "cbce developers"
copyright = "cbce developers"
version = release = f"{_v['MAJOR']}.{_v['MINOR']}.{_v['PATCH']}"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "scripts", "figures/*.md", "README.md"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# quotes in tables are Python strings ("avg", b"mean"): keep them straight
smartquotes = False

autodoc_member_order = "bysource"
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

doctest_global_setup = """
import importlib
import numpy as np
import cbce  # noqa: F401 - the API pages document the installed package: fail early without it

def _optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None

torch, xgboost, lightgbm, dask = (_optional(m) for m in ("torch", "xgboost", "lightgbm", "dask"))
"""
# The integrations' API pages document modules whose framework may be absent where the
# docs are built: autodoc then reads them against stand-ins.  Their doctests need the real
# frameworks (pip install -r requirements-test.txt).
autodoc_mock_imports = []
for _name in ("torch", "dask", "xgboost", "lightgbm"):
    try:
        __import__(_name)
    except ImportError:
        autodoc_mock_imports.append(_name)
# outputs are compared exactly as NumPy 2 prints them (ELLIPSIS only where "..." is written)
doctest_default_flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1

html_theme = "pydata_sphinx_theme"
html_title = f"cbce {release}"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
html_css_files = ["custom.css"]
html_context = {"default_mode": "light"}
html_theme_options = {
    "navbar_end": ["navbar-icon-links"],
    "secondary_sidebar_items": ["page-toc"],
    "show_prev_next": False,
    "footer_start": ["copyright"],
    "footer_end": [],
}
# pages with no section of siblings get the width instead of an empty navigation column
html_sidebars = {"guide/*": ["sidebar-nav-bs"], "api/*": ["sidebar-nav-bs"], "index": [],
                 "changelog": [], "background/*": [], "getting-started/*": [], "dev/*": []}
# Formulas are written as code, not math: the site loads nothing from the network.
