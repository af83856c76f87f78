"""Foundations every other layer may import: errors, exit codes, YAML output, plain-data
helpers, versions, secret masking, ApplySet ownership names and source trees.

Nothing here imports another kgit package.
"""
