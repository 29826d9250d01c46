"""The throwaway PostgreSQL server of the tests: ``hearthcam_bench.postgres`` (the benchmarks
start the same one)."""

from hearthcam_bench.postgres import (
    database_name,
    database_url,
    new_database,
    postgres_server,
    server_installed,
)

__all__ = ["database_name", "database_url", "new_database", "postgres_server", "server_installed"]
