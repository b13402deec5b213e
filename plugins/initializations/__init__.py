"""Built-in initializations (registrations are added by the initializations issue)."""
