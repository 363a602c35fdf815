"""A running MariaDB server: private databases for one run (the server is started by ``./run``)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from powervm_openstack.deploy.child import (
    ServiceUnavailable,
    port_is_open,
)
from powervm_openstack.deploy.naming import check_identifier

DEFAULT_DB_USER = "pvmtest"
DEFAULT_DB_PASSWORD = "pvmtest"


class MariaDB:
    """A MariaDB/MySQL server reached over TCP with a user allowed to create and drop databases."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 3306,
        user: str = DEFAULT_DB_USER,
        password: str = DEFAULT_DB_PASSWORD,
    ) -> None:
        self.host = host
        self.port = port
        self.user = user
        self.password = password

    @classmethod
    def from_env(cls) -> MariaDB:
        """Build from ``PVM_DB_*`` environment variables, defaulting to what ``./run`` sets up."""
        return cls(
            host=os.environ.get("PVM_DB_HOST", "127.0.0.1"),
            port=int(os.environ.get("PVM_DB_PORT", "3306")),
            user=os.environ.get("PVM_DB_USER", DEFAULT_DB_USER),
            password=os.environ.get("PVM_DB_PASSWORD", DEFAULT_DB_PASSWORD),
        )

    def url(self, database: str) -> str:
        """Return the SQLAlchemy URL of ``database`` (``mysql+pymysql://user:pw@host:port/db``)."""
        return (
            f"mysql+pymysql://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{database}"
        )

    def _connect(self, timeout: float = 10.0) -> Any:
        import pymysql

        return pymysql.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            connect_timeout=timeout,
            autocommit=True,
        )

    def check(self, timeout: float = 5.0) -> None:
        """Raise :class:`ServiceUnavailable` with the reason unless the server accepts our login."""
        if not port_is_open(self.host, self.port, timeout):
            raise ServiceUnavailable(
                f"MariaDB is not answering on {self.host}:{self.port}. "
                "`./run test` starts it; or start it yourself and rerun."
            )
        try:
            conn = self._connect(timeout)
        except Exception as exc:  # pymysql raises several unrelated classes here
            raise ServiceUnavailable(
                f"MariaDB on {self.host}:{self.port} refused user {self.user!r}: {exc}. "
                "`./run test` creates this user; or set PVM_DB_USER/PVM_DB_PASSWORD."
            ) from exc
        conn.close()

    def _execute(self, sql: str) -> list[tuple[Any, ...]]:
        conn = self._connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                return list(cur.fetchall())
        finally:
            conn.close()

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` (dropping any previous one) and return its URL."""
        check_identifier(name)
        self._execute(f"DROP DATABASE IF EXISTS `{name}`")
        self._execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists."""
        check_identifier(name)
        self._execute(f"DROP DATABASE IF EXISTS `{name}`")

    def list_databases(self) -> list[str]:
        """Return the names of all databases the user can see."""
        return [row[0] for row in self._execute("SHOW DATABASES")]
