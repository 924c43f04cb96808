"""Tables and Python types: one handler per stored table type (pandas, polars, pyarrow, DuckDB),
what an input annotation asks for, and the reads handlers are given. No Dagster import."""
