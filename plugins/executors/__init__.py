"""Built-in executors (registrations are added by the executors issue)."""
