"""The review hub: many homes' redacted shared clips in one place (issue 16). This package so far
holds the identities and the signed requests between a home and a hub."""
