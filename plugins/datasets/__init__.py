"""Built-in datasets (registrations are added by the datasets issue)."""
