"""The review hub: many homes' redacted shared clips in one place (issue 16). Built so far: the
identities and signed requests between a home and a hub (``identity``, ``signing``), linking a
home with a one-time code (``registry``, ``server``, ``client``) and the home's check of the
hub's view log (``monitor``). See docs/hub.md for what is not built yet."""
