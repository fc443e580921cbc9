"""Project tools behind `make efficacy` and `make bench`."""
