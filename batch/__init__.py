"""Batch and benchmark tooling, apart from the runtime: ``veil protect`` (protect files and
folders, with reports) and ``veil bench`` (measure the filters against a held-out judge,
with tables, plots and contact sheets).

It uses ``filters`` as the proxy does; nothing in ``filters`` or ``proxy`` imports it, so the
proxy never loads the judge or matplotlib.
"""
