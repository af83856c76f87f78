"""Process exit codes, as Terraform uses them (2 only with --detailed-exitcode / --exit-code,
and from `kgit status`; 3 only from `kgit status`). docs/reconcile.md has the table."""

SUCCESS = 0
ERROR = 1
CHANGES_PRESENT = 2
# `kgit status` only: everything in sync, but some object is not ready (unhealthy).
NOT_READY = 3
