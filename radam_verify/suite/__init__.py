"""The packaged conformance suite: properties (``test_*.py``) and the machinery they use.

Run it with ``pytest --verify-impl=MODULE:ATTR`` or ``radam-verify check MODULE:ATTR``.
"""
