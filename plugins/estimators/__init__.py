"""Built-in estimators (registrations are added by the estimators issue)."""
