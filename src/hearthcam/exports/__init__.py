"""Exports: a time range of one camera's recording as one MP4 (``hearthcam.exports``).

``plan`` checks a requested range (or an event +- seconds) and finds its footage; ``render``
remuxes it into any writable file (the one core the web app's jobs and ``hearthcam media
export-range`` share); ``jobs`` runs exports in the background with progress, keeps their files
sealed like every media file, deletes them on request or when their days are up, and writes who
exported what into the export audit.
"""

from hearthcam.exports.jobs import EXPORTS_DIR, Exporter, export_path
from hearthcam.exports.plan import ExportRefused, event_range, footage
from hearthcam.exports.render import render_range

__all__ = [
    "EXPORTS_DIR",
    "ExportRefused",
    "Exporter",
    "event_range",
    "export_path",
    "footage",
    "render_range",
]
