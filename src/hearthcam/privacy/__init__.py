"""Sharing a clip as feedback, privately: consent and withdrawal (``consent``), the machine checks
before any human sees a frame (``review``)."""
