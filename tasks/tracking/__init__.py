"""MLflow, and only here: the store, run lifecycle, logged values, models and the registry.

The package is generic: it knows runs, params, metrics, figures and Keras models, never a domain
type. Runs are addressed by id through ``MlflowClient`` rather than MLflow's thread-local "active
run", so tasks running in Prefect worker threads log to the right run.
"""
