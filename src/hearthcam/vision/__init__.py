"""Vision for shared clips: the face detector, the intimate-content scan and the redactor.

Runs on the review side only (the live path never imports it): a clip an owner shares is scanned
(``sensitive``), redacted and checked again (``redact``) before anyone else may see it, and
``prepare`` chains the three so that any failure leaves the clip with its owner only.
"""
