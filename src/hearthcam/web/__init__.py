"""The owner's web app: FastAPI API and pages over the store, accounts and live views.

``WebServices`` is what it runs on, ``create_app`` builds the ASGI app, ``start_server`` runs it
on a background thread. The contract is docs/web-api.md.
"""

from hearthcam.web.bus import BusKind, BusMessage, EventBus
from hearthcam.web.serve import ServerError, ServerHandle, start_server
from hearthcam.web.server import create_app
from hearthcam.web.services import WebServices

__all__ = [
    "BusKind",
    "BusMessage",
    "EventBus",
    "ServerError",
    "ServerHandle",
    "WebServices",
    "create_app",
    "start_server",
]
