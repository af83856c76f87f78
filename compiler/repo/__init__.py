"""The Git side: the repository (``gitrepo``, the only module that touches GitPython),
committing out/ (``commit``), what a change does to out/ (``changes``), ``set-image``
edits of the spec, and vendoring upstream manifests (``vendor``).
"""
