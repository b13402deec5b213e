"""Built-in optimizers (registrations are added by the optimizers issue)."""
