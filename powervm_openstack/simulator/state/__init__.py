"""The simulator's state: the SQLite store, records, object kinds, REST resources and Atom/XML."""
