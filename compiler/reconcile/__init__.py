"""The reconcile half of kgit: read out/ (``desired``) -> connect (``client``) -> observe
-> plan -> apply (``checks``, ``order``, ``prune``, ``wait``, ``lock``) -> record
(``history``).

The ``kubernetes`` library is imported by ``client`` (and what imports it) only; the CLI
imports this side of kgit inside the commands that talk to a cluster, so the compile
commands never load it.
"""
