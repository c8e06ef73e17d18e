"""The package's Jinja2 templates (``msc_meta/templates``), in one environment.

Every HTML fragment or page the library writes is rendered from these
templates with autoescaping: values are text unless marked safe with
:class:`markupsafe.Markup`. Undefined names are errors, not empty strings.
"""

from __future__ import annotations

import jinja2

#: The environment every HTML template of the package is rendered with.
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("msc_meta", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
