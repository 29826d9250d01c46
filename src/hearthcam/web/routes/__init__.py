"""The API's routers, one module per resource; ``server.create_app`` includes them all."""
