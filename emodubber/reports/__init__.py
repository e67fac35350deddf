"""Reports: the papermill suite runner, provenance records, and the tables and figures of the paper."""
