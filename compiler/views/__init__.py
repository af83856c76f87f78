"""Presentation: every text, JSON and Markdown rendering of plans, diffs, results and
history. Views take values and return strings; they never decide anything.
"""
