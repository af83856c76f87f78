"""Benchmarks: kgit side by side with kubectl/kustomize, run by `make bench`."""
