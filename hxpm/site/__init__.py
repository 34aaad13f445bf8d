"""A static, browsable catalog of one index (`hxpm index site`; docs/site.md).

Pure generation from values: :mod:`hxpm.site.model` holds what a site is built from,
:mod:`hxpm.site.build` writes the files. Fetching READMEs and reading the index is the
service's business (:mod:`hxpm.services.site`). markdown-it-py sits behind
:mod:`hxpm.site.markdown` only.
"""
