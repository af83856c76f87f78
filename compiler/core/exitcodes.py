"""Process exit codes, as Terraform uses them (2 only with --detailed-exitcode / --exit-code)."""

SUCCESS = 0
ERROR = 1
CHANGES_PRESENT = 2
