"""The graph's tables and queries for SQLite, written once.

Every row carries ``project_id`` and ``generation``, and every query selects by both, so a
read is of one project's one generation. The project's current-generation pointer is one
column of ``graph_project``: flipping it is one ``UPDATE``.
"""

# Queries are assembled from this module's constants, never from caller text; every value
# travels as a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

__all__ = ["MIGRATIONS", "QUERIES", "SCHEMA_VERSION"]

# Entry ``v`` takes a database from schema version ``v`` to ``v + 1``. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE graph_project (
            project_id TEXT NOT NULL PRIMARY KEY,
            current_generation TEXT,
            last_sequence INTEGER NOT NULL DEFAULT 0
        )""",
        """CREATE TABLE graph_generation (
            project_id TEXT NOT NULL,
            generation TEXT NOT NULL,
            sequence INTEGER NOT NULL,
            published INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (project_id, generation)
        )""",
        """CREATE TABLE graph_entity (
            project_id TEXT NOT NULL,
            generation TEXT NOT NULL,
            key TEXT NOT NULL,
            name TEXT NOT NULL,
            type TEXT,
            PRIMARY KEY (project_id, generation, key)
        )""",
        """CREATE TABLE graph_relation (
            project_id TEXT NOT NULL,
            generation TEXT NOT NULL,
            subject TEXT NOT NULL,
            predicate TEXT NOT NULL,
            object TEXT NOT NULL,
            weight REAL NOT NULL,
            method TEXT NOT NULL,
            confidence REAL NOT NULL,
            PRIMARY KEY (project_id, generation, subject, predicate, object)
        )""",
        "CREATE INDEX graph_relation_object ON graph_relation (project_id, generation, object)",
        """CREATE TABLE graph_provenance (
            project_id TEXT NOT NULL,
            generation TEXT NOT NULL,
            subject TEXT NOT NULL,
            predicate TEXT NOT NULL,
            object TEXT NOT NULL,
            position INTEGER NOT NULL,
            document_id TEXT NOT NULL,
            source_path TEXT NOT NULL,
            sentence TEXT NOT NULL,
            start_offset INTEGER NOT NULL,
            end_offset INTEGER NOT NULL,
            PRIMARY KEY (project_id, generation, subject, predicate, object, position)
        )""",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this code writes; a database of a newer one is refused."""

_RELATION = "subject, predicate, object, weight, method, confidence"
_PROVENANCE = (
    "subject, predicate, object, position, document_id, source_path, sentence,"
    " start_offset, end_offset"
)
_GENERATION = "project_id = ? AND generation = ?"

QUERIES: dict[str, str] = {
    "schema_version": "SELECT version FROM graph_schema_version",
    "current": "SELECT current_generation FROM graph_project WHERE project_id = ?",
    "generation": f"SELECT sequence, published FROM graph_generation WHERE {_GENERATION}",
    "generations": """SELECT g.generation, g.sequence, g.published,
            g.generation = p.current_generation
        FROM graph_generation AS g LEFT JOIN graph_project AS p USING (project_id)
        WHERE g.project_id = ?""",
    "touch_project": """INSERT INTO graph_project (project_id, last_sequence) VALUES (?, 1)
        ON CONFLICT (project_id) DO UPDATE SET last_sequence = last_sequence + 1
        RETURNING last_sequence""",
    "insert_generation": """INSERT INTO graph_generation (project_id, generation, sequence)
        VALUES (?, ?, ?)""",
    "publish": f"UPDATE graph_generation SET published = 1 WHERE {_GENERATION}",
    "point": """INSERT INTO graph_project (project_id, current_generation) VALUES (?, ?)
        ON CONFLICT (project_id) DO UPDATE SET current_generation = excluded.current_generation""",
    "upsert_entity": """INSERT INTO graph_entity (project_id, generation, key, name, type)
        VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (project_id, generation, key)
        DO UPDATE SET name = excluded.name, type = excluded.type""",
    "upsert_relation": f"""INSERT INTO graph_relation (project_id, generation, {_RELATION})
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (project_id, generation, subject, predicate, object)
        DO UPDATE SET weight = excluded.weight, method = excluded.method,
            confidence = excluded.confidence""",
    "forget_provenance": f"""DELETE FROM graph_provenance
        WHERE {_GENERATION} AND subject = ? AND predicate = ? AND object = ?""",
    "insert_provenance": f"""INSERT INTO graph_provenance (project_id, generation, {_PROVENANCE})
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
    # ``{keys}`` is a list of placeholders, one per key of the batch (at most 500).
    "known_keys": f"SELECT key FROM graph_entity WHERE {_GENERATION} AND key IN ({{keys}})",
    "delete_provenance": f"DELETE FROM graph_provenance WHERE {_GENERATION}",
    "delete_relations": f"DELETE FROM graph_relation WHERE {_GENERATION}",
    "delete_entities": f"DELETE FROM graph_entity WHERE {_GENERATION}",
    "delete_generation": f"DELETE FROM graph_generation WHERE {_GENERATION}",
    "entities": f"SELECT key, name, type FROM graph_entity WHERE {_GENERATION}",
    "entity": f"SELECT key, name, type FROM graph_entity WHERE {_GENERATION} AND key = ?",
    "relations": f"SELECT {_RELATION} FROM graph_relation WHERE {_GENERATION}",
    "provenance": f"""SELECT {_PROVENANCE} FROM graph_provenance WHERE {_GENERATION}
        ORDER BY subject, predicate, object, position""",
    "count_entities": f"SELECT count(*) FROM graph_entity WHERE {_GENERATION}",
    "predicates": f"""SELECT predicate, count(*) FROM graph_relation WHERE {_GENERATION}
        GROUP BY predicate""",
    "strongest": f"""SELECT {_RELATION} FROM graph_relation WHERE {_GENERATION}
        ORDER BY weight DESC, confidence DESC, subject, predicate, object LIMIT ?""",
    "touching": f"""SELECT {_RELATION} FROM graph_relation
        WHERE {_GENERATION} AND (subject = ? OR object = ?)""",
    "provenance_of": f"""SELECT {_PROVENANCE} FROM graph_provenance
        WHERE {_GENERATION} AND subject = ? AND predicate = ? AND object = ?
        ORDER BY position""",
}
