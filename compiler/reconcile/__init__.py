"""The reconcile half of kgit: read out/ -> connect -> observe -> plan -> apply -> record.

Only this package imports the ``kubernetes`` client, and only lazily, inside functions that
talk to a cluster, so compile-side commands never pay for it.
"""
