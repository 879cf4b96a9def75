"""The augmentation study: conditions, the sweep, statistics, tables and figures."""
