"""What is stored for an asset, and the scans over it: the layout of its files, the stored
files' one model (``StoredTable``), the pyarrow, polars and DuckDB scans, and ``Storage``, the
I/O manager's settings bound to the API calls. No Dagster import."""
