"""The phase probe."""
