"""The system lane's checks, one module per check (see checks.py)."""
