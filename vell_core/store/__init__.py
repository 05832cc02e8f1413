"""The store: database engine, migrations, seed data and the queries."""
