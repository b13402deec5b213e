"""Built-in models (registrations are added by the models issue)."""
