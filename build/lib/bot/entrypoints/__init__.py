"""The entrypoints: the `rdsbot` CLI (serve, worker, demo, shell, audit) and the console. With tests and bench,
the only importers of the composition root, bot/bootstrap/."""
