"""Stage 4, render: one pure function per target, from the model to files and objects.

Renderers never touch the disk, the network, the clock or the environment: base manifests
are passed in by the pipeline.
"""
