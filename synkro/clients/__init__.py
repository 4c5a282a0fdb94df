"""HTTP clients for the external services Synkro reads from and writes to."""
