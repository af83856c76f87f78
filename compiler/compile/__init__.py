"""The compile pipeline: load -> validate -> model -> render -> overlay -> emit (out/).

``pipeline.compile_tree`` runs the stages in order; each stage is its own module or
subpackage. Nothing here talks to Git or to a cluster.
"""
